/**
 * What a new master's keepalived.conf carries from an old master's, besides
 * the VRRP instance itself (keepalived-conf.ts renders that): the global_defs
 * settings (router_id becomes the new host's name), the vrrp_script /
 * vrrp_track_process / vrrp_track_file blocks, and every instance statement
 * cpmigrate does not set itself (track_script, track_interface, notify*,
 * garp settings, ...). Pure.
 *
 * Addresses are remapped: the source host's address and name become the new
 * host's, its interface the plan's. A block that names ANOTHER old master's
 * address cannot be remapped (which new master would it be?): it is refused,
 * with the block shown, rather than carried pointing at a host that is about
 * to be decommissioned.
 */
import { addressPattern, remapHost, type HostIdentity } from '../lib/remap';
import type { Stmt } from './keepalived-conf';

/** Instance statements keepalived-conf.ts renders itself (not carried from the source). */
export const RENDERED_INSTANCE_KEYS = new Set([
  'state',
  'interface',
  'virtual_router_id',
  'priority',
  'advert_int',
  'unicast_src_ip',
  'unicast_peer',
  'authentication',
  'virtual_ipaddress',
]);
/** Instance statements deliberately not carried, and why. */
export const NOT_CARRIED_INSTANCE: Record<string, string> = {
  nopreempt: 'the new masters must take the VIP over from the old ones (cpmigrate verifies it moves)',
};
/** Top-level blocks carried (with remapping). */
const CARRIED_TOP = new Set(['vrrp_script', 'vrrp_track_process', 'vrrp_track_file', 'static_ipaddress', 'static_routes', 'static_rules']);

export interface CarryContext {
  from: HostIdentity & { iface?: string };
  to: HostIdentity & { iface: string };
  /** addresses of the other old masters: naming one of them cannot be remapped */
  otherOldAddresses: readonly string[];
}

export interface Carried {
  globalDefs: Stmt[];
  topBlocks: Stmt[];
  instanceExtras: Stmt[];
  /** names of what was carried, for the summary: "vrrp_script chk_nginx", "track_script", "notify_master" */
  carried: string[];
  /** what was left out, and why */
  notCarried: string[];
  /** blocks naming another old master's address: the caller refuses */
  refused: Array<{ block: string; address: string }>;
}

export function renderStmt(s: Stmt, indent = ''): string[] {
  const head = [s.key, ...s.args].join(' ');
  if (!s.children) return [`${indent}${head}`];
  return [`${indent}${head} {`, ...s.children.flatMap((c) => renderStmt(c, `${indent}    `)), `${indent}}`];
}

function remapToken(tok: string, ctx: CarryContext): string {
  if (ctx.from.iface && tok === ctx.from.iface) return ctx.to.iface;
  return remapHost(tok, ctx.from, ctx.to);
}

function remapStmt(s: Stmt, ctx: CarryContext): Stmt {
  return {
    key: remapToken(s.key, ctx),
    args: s.args.map((a) => remapToken(a, ctx)),
    ...(s.children ? { children: s.children.map((c) => remapStmt(c, ctx)) } : {}),
  };
}

/** The first other-old-master address the statement names, if any. */
function namesOtherOld(s: Stmt, ctx: CarryContext): string | undefined {
  const text = renderStmt(s).join('\n');
  return ctx.otherOldAddresses.find((a) => addressPattern(a, '').test(text));
}

export function carryKeepalived(stmts: readonly Stmt[], instance: Stmt, ctx: CarryContext): Carried {
  const out: Carried = { globalDefs: [], topBlocks: [], instanceExtras: [], carried: [], notCarried: [], refused: [] };
  const take = (s: Stmt, label: string, into: Stmt[]) => {
    const other = namesOtherOld(s, ctx);
    if (other) {
      out.refused.push({ block: renderStmt(s).join('\n'), address: other });
      return;
    }
    into.push(remapStmt(s, ctx));
    out.carried.push(label);
  };
  for (const s of stmts) {
    if (s.key === 'global_defs') {
      for (const c of s.children ?? []) if (c.key !== 'router_id') take(c, `global_defs ${c.key}`, out.globalDefs);
    } else if (CARRIED_TOP.has(s.key)) {
      take(s, [s.key, ...s.args].join(' '), out.topBlocks);
    } else if (s !== instance) {
      out.notCarried.push(`${[s.key, ...s.args].join(' ')} (not part of the apiserver VIP's VRRP instance)`);
    }
  }
  for (const c of instance.children ?? []) {
    if (RENDERED_INSTANCE_KEYS.has(c.key)) continue;
    const why = NOT_CARRIED_INSTANCE[c.key];
    if (why) out.notCarried.push(`${c.key} (${why})`);
    else take(c, c.key, out.instanceExtras);
  }
  return out;
}

/** The refusal message: every block that cannot be remapped, shown as it is. */
export function describeRefused(refused: Carried['refused'], source: string): string {
  return (
    `${source}: ${refused.length} keepalived block(s) name another old master's address, which cannot be remapped to a new master ` +
    `(edit them to name the VIP or the host's own address, or remove them, then retry):\n` +
    refused.map((r) => `--- names ${r.address}:\n${r.block}`).join('\n')
  );
}
