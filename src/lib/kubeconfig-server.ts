/**
 * The API server a kubeconfig points at, and the same kubeconfig pointed
 * somewhere else. Pure: text in, text out (unit-tested on their own).
 *
 * The rewrite is the runbook's `sed -i "s#server: https://.*#server: LB#"`, made
 * exact: only `server:` lines whose value is the current server change, the
 * rest of the file (comments, order, other clusters) is kept byte for byte, and
 * the result is parsed again to prove the current context now uses the new URL.
 */
import { parse as parseYaml } from 'yaml';

interface KubeconfigDoc {
  clusters?: Array<{ name?: string; cluster?: { server?: string } }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
  'current-context'?: string;
}

/** Thrown when a kubeconfig cannot be parsed or rewritten (no server, not YAML, rewrite did not take). */
export class KubeconfigRewriteError extends Error {
  override readonly name = 'KubeconfigRewriteError';
}

/** The current context's cluster server (else the first cluster's); undefined when there is none. */
export function kubeconfigServer(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return /^\s*server:\s*["']?([^\s"']+)/m.exec(text)?.[1];
  }
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as KubeconfigDoc;
  if (!Array.isArray(d.clusters) || d.clusters.length === 0) return undefined;
  const ctx = (d.contexts ?? []).find((c) => c.name === d['current-context']);
  const cluster = d.clusters.find((c) => c.name === ctx?.context?.cluster) ?? d.clusters[0];
  return cluster?.cluster?.server;
}

const SERVER_LINE = /^(\s*server:\s*)(["']?)([^\s"'#]+)(["']?)(.*)$/;

/**
 * `text` with every `server: FROM` line set to `to`. Unchanged when it already
 * points at `to`. Throws KubeconfigRewriteError when it points at neither.
 */
export function rewriteKubeconfigServer(text: string, from: string, to: string): { text: string; changed: boolean; lines: number } {
  const current = kubeconfigServer(text);
  if (current === to) return { text, changed: false, lines: 0 };
  if (current !== from) throw new KubeconfigRewriteError(`the kubeconfig uses ${current ?? '(no server)'}, not ${from}: it changed since it was checked`);
  let lines = 0;
  const out = text
    .split('\n')
    .map((line) => {
      const m = SERVER_LINE.exec(line);
      if (!m || m[3] !== from) return line;
      lines++;
      return `${m[1] ?? ''}${m[2] ?? ''}${to}${m[4] ?? ''}${m[5] ?? ''}`;
    })
    .join('\n');
  if (kubeconfigServer(out) !== to) throw new KubeconfigRewriteError(`rewriting server ${from} → ${to} did not take (${lines} line(s) matched)`);
  return { text: out, changed: true, lines };
}

/** host:port of a URL (default port from the scheme); '' when unparsable. */
export function hostPortOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return '';
  }
}

/** Does `server` point at host:port? */
export function pointsAt(server: string | undefined, host: string, port: number): boolean {
  return server !== undefined && hostPortOf(server) === `${host}:${port}`;
}
