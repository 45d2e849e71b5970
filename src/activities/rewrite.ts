/**
 * "Copy and modify" for control-plane config files, as pure text rewrites that
 * keep everything else byte for byte. Works on `--flag=value` tokens wherever
 * they are: flag files, env files (KUBE_APISERVER_ARGS="..."), static-pod
 * manifests (`- --flag=value`, `- "--flag=value"`). Only the `--flag=value`
 * form is rewritten; `--flag value` is refused with a clear message.
 */

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `--name=VALUE` tokens: preceded by start/space/quote/[ ; the value ends at space, quote, ], or ", ". */
function flagRe(name: string): RegExp {
  return new RegExp(`(?<=^|[\\s"'\\[,])--${esc(name)}=([^\\s"'\\]]*?)(?=,\\s|[\\s"'\\]]|$)`, 'gm');
}

export class RewriteError extends Error {
  override readonly name = 'RewriteError';
}

/** Values of every `--name=` token in the text. */
export function flagValues(text: string, name: string): string[] {
  return [...text.matchAll(flagRe(name))].map((m) => m[1] ?? '');
}

function assertEqualsForm(text: string, name: string, file: string): void {
  if (new RegExp(`(?<=^|[\\s"'\\[,])--${esc(name)}(?=\\s|["'\\]]|$)`, 'm').test(text)) {
    throw new RewriteError(
      `${file}: --${name} is written as "--${name} VALUE"; cpmigrate rewrites only the --${name}=VALUE form: change it to --${name}=VALUE first`,
    );
  }
}

/** Replaces the value of every `--name=` token; returns how many were replaced. */
export function setFlag(text: string, name: string, value: string, file = 'config'): { text: string; count: number } {
  assertEqualsForm(text, name, file);
  let count = 0;
  const out = text.replace(flagRe(name), () => {
    count++;
    return `--${name}=${value}`;
  });
  return { text: out, count };
}

/**
 * Sets `--name=value`; when absent, inserts it next to the `--anchor=` token in
 * the same style: on its own line with the same prefix/suffix when the anchor
 * has a line to itself (manifest list items, one-flag-per-line files), else
 * right after the anchor's value on the same line.
 */
export function ensureFlag(text: string, name: string, value: string, anchor: string, file = 'config'): { text: string; inserted: boolean } {
  const set = setFlag(text, name, value, file);
  if (set.count > 0) return { text: set.text, inserted: false };
  const m = flagRe(anchor).exec(text);
  if (!m) throw new RewriteError(`${file}: cannot add --${name}: no --${anchor}= flag to place it next to`);
  const start = m.index;
  const end = start + m[0].length;
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const nl = text.indexOf('\n', end);
  const lineEnd = nl === -1 ? text.length : nl;
  const prefix = text.slice(lineStart, start);
  const suffix = text.slice(end, lineEnd);
  const token = `--${name}=${value}`;
  if (/^\s*(-\s+)?["']?$/.test(prefix) && /^["']?(\s*\\)?\s*$/.test(suffix)) {
    const line = `${prefix}${token}${suffix}`;
    return { text: `${text.slice(0, lineEnd)}\n${line}${text.slice(lineEnd)}`, inserted: true };
  }
  return { text: `${text.slice(0, end)} ${token}${text.slice(end)}`, inserted: true };
}

/** Replaces an IPv4 address as a whole (10.0.0.1 does not match inside 10.0.0.12 or 110.0.0.1). */
export function replaceAddress(text: string, from: string, to: string): { text: string; count: number } {
  let count = 0;
  const out = text.replace(new RegExp(`(?<![\\d.])${esc(from)}(?![\\d]|\\.\\d)`, 'g'), () => {
    count++;
    return to;
  });
  return { text: out, count };
}

export interface ApiserverRewrite {
  etcdServers: string[];
  sourceAddress: string;
  address: string;
  apiserverCount?: number;
}

/** The source master's kube-apiserver config, adapted for the target master. */
export function rewriteApiserverConfig(text: string, r: ApiserverRewrite, file: string): { text: string; notes: string[] } {
  const notes: string[] = [];
  // the source's own address first, so the flags set below are not touched by it
  const addr = replaceAddress(text, r.sourceAddress, r.address);
  const etcd = setFlag(addr.text, 'etcd-servers', r.etcdServers.join(','), file);
  if (etcd.count === 0) throw new RewriteError(`${file}: no --etcd-servers= flag found; is this the kube-apiserver config?`);
  let out = etcd.text;
  const adv = setFlag(out, 'advertise-address', r.address, file);
  out = adv.text;
  if (adv.count === 0) notes.push('no --advertise-address flag (the apiserver picks its default interface address)');
  if (r.apiserverCount !== undefined) {
    const cnt = ensureFlag(out, 'apiserver-count', String(r.apiserverCount), 'etcd-servers', file);
    out = cnt.text;
    if (cnt.inserted) notes.push(`added --apiserver-count=${r.apiserverCount}`);
  }
  if (addr.count) notes.push(`replaced ${r.sourceAddress} with ${r.address} (${addr.count}x)`);
  return { text: out, notes };
}

/**
 * Rewrites every `upstream NAME { ... }` block to list `servers` (host:port),
 * keeping the block's other directives and the parameters of its first
 * server line (e.g. max_fails=0; `backup` and `down` are not copied).
 */
export function rewriteNginxUpstream(text: string, name: string, servers: string[], file: string): { text: string; blocks: number } {
  const block = new RegExp(`(^[ \\t]*upstream\\s+${esc(name)}\\s*\\{[^\\n]*\\n)([^}]*?)(^[ \\t]*\\})`, 'gm');
  let blocks = 0;
  const out = text.replace(block, (_all, open: string, body: string, close: string) => {
    blocks++;
    const lines = body.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const serverRe = /^([ \t]*)server\s+(\S+?)(\s+[^;]*)?;\s*(#.*)?$/;
    const first = lines.map((l) => serverRe.exec(l)).find((m) => m);
    const indent = first?.[1] ?? (/^([ \t]*)/.exec(open)?.[1] ?? '') + '    ';
    const params = (first?.[3] ?? '')
      .split(/\s+/)
      .filter((p) => p && p !== 'backup' && p !== 'down')
      .join(' ');
    const fresh = servers.map((s) => `${indent}server ${s}${params ? ` ${params}` : ''};`);
    const kept: string[] = [];
    let placed = false;
    for (const l of lines) {
      if (serverRe.test(l)) {
        if (!placed) kept.push(...fresh);
        placed = true;
      } else kept.push(l);
    }
    if (!placed) kept.push(...fresh);
    return `${open}${kept.join('\n')}\n${close}`;
  });
  if (blocks === 0) throw new RewriteError(`${file}: no "upstream ${name} { ... }" block (plan loadBalancer.upstreamName is "${name}")`);
  return { text: out, blocks };
}

/** Absolute paths given as flag values (`--x=/etc/...`), to check they exist on the target. */
export function referencedPaths(text: string, under = '/etc/'): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<=^|[\s"'[,])--[a-z0-9-]+=(\/[^\s"',\]]+)/gm)) {
    const p = m[1] ?? '';
    if (p.startsWith(under)) out.add(p);
  }
  return [...out];
}
