/**
 * keepalived.conf as data: a small parser (statements, `{}` blocks, comments)
 * for what cpmigrate needs from the old masters' VRRP instance, and the
 * renderer of a new master's config that joins the same instance.
 */

import { renderStmt } from './keepalived-carry';

export interface Stmt {
  key: string;
  args: string[];
  children?: Stmt[];
}

export function parseKeepalived(text: string): Stmt[] {
  const tokens: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#!].*$/, '');
    for (const t of line.replace(/([{}])/g, ' $1 ').split(/\s+/)) if (t) tokens.push(t);
    tokens.push('\n');
  }
  let i = 0;
  const block = (): Stmt[] => {
    const out: Stmt[] = [];
    let cur: string[] = [];
    const flush = () => {
      if (cur.length) out.push({ key: cur[0] ?? '', args: cur.slice(1) });
      cur = [];
    };
    while (i < tokens.length) {
      const t = tokens[i++] as string;
      if (t === '\n') flush();
      else if (t === '{') {
        const header = cur;
        cur = [];
        out.push({ key: header[0] ?? '', args: header.slice(1), children: block() });
      } else if (t === '}') {
        flush();
        return out;
      } else cur.push(t);
    }
    flush();
    return out;
  };
  return block();
}

export interface VrrpInstance {
  name: string;
  virtualRouterId: number;
  priority?: number;
  interface?: string;
  advertInt?: string;
  /** undefined = multicast */
  unicastPeers?: string[];
  authType?: string;
  authPass?: string;
  /** virtual_ipaddress lines, verbatim tokens */
  vips: string[][];
  nopreempt: boolean;
  /** statements the renderer does not set itself (track_script, notify, ...): carried by keepalived-carry.ts */
  others: string[];
  /** the parsed block */
  stmt: Stmt;
}

const KNOWN = new Set([
  'state',
  'interface',
  'virtual_router_id',
  'priority',
  'advert_int',
  'unicast_src_ip',
  'unicast_peer',
  'authentication',
  'virtual_ipaddress',
  'nopreempt',
]);

export function vrrpInstances(stmts: Stmt[]): VrrpInstance[] {
  return stmts
    .filter((s) => s.key === 'vrrp_instance' && s.children)
    .map((s) => {
      const kids = s.children ?? [];
      const one = (k: string) => kids.find((c) => c.key === k);
      const auth = one('authentication')?.children ?? [];
      const peers = one('unicast_peer');
      return {
        name: s.args[0] ?? 'VI_1',
        virtualRouterId: Number(one('virtual_router_id')?.args[0]),
        priority: one('priority') ? Number(one('priority')?.args[0]) : undefined,
        interface: one('interface')?.args[0],
        advertInt: one('advert_int')?.args[0],
        unicastPeers: peers ? (peers.children ?? []).map((c) => c.key) : undefined,
        authType: auth.find((c) => c.key === 'auth_type')?.args[0],
        authPass: auth.find((c) => c.key === 'auth_pass')?.args[0],
        vips: (one('virtual_ipaddress')?.children ?? []).map((c) => [c.key, ...c.args]),
        nopreempt: kids.some((c) => c.key === 'nopreempt'),
        others: kids.filter((c) => !KNOWN.has(c.key)).map((c) => c.key),
        stmt: s,
      };
    });
}

export interface NewKeepalived {
  host: string;
  address: string;
  instance: string;
  iface: string;
  virtualRouterId: number;
  priority: number;
  advertInt: string;
  /** undefined = multicast */
  unicastPeers?: string[];
  auth?: { type: string; pass: string };
  vips: string[][];
  /** carried from the old master (keepalived-carry.ts), already remapped */
  globalDefs?: Stmt[];
  topBlocks?: Stmt[];
  instanceExtras?: Stmt[];
}

export function renderKeepalived(k: NewKeepalived): string {
  const lines = [
    `# keepalived on ${k.host}, written by cpmigrate: joins VRRP instance ${k.virtualRouterId} of the old masters`,
    'global_defs {',
    `    router_id ${k.host}`,
    ...(k.globalDefs ?? []).flatMap((s) => renderStmt(s, '    ')),
    '}',
    ...(k.topBlocks ?? []).flatMap((s) => renderStmt(s)),
    `vrrp_instance ${k.instance} {`,
    '    state BACKUP',
    `    interface ${k.iface}`,
    `    virtual_router_id ${k.virtualRouterId}`,
    `    priority ${k.priority}`,
    `    advert_int ${k.advertInt}`,
  ];
  if (k.unicastPeers) lines.push(`    unicast_src_ip ${k.address}`, '    unicast_peer {', ...k.unicastPeers.map((p) => `        ${p}`), '    }');
  if (k.auth) lines.push('    authentication {', `        auth_type ${k.auth.type}`, `        auth_pass ${k.auth.pass}`, '    }');
  lines.push(
    '    virtual_ipaddress {',
    ...k.vips.map((v) => `        ${v.join(' ')}`),
    '    }',
    ...(k.instanceExtras ?? []).flatMap((s) => renderStmt(s, '    ')),
    '}',
    '',
  );
  return lines.join('\n');
}
