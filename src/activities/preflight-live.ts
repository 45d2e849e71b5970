/**
 * Preflight checks of the old masters' LIVE configs and of plan sanity, each
 * a small named check that reports blockers (nothing changes): what would
 * otherwise only be found after etcd has grown to six members.
 *
 * - keepalived: the VRRP instance carrying the VIP has the plan's
 *   virtual_router_id, interface and password; old and new can hear each
 *   other (transport, unicast peers); some new master's priority is above the
 *   old ones; every carried block can be remapped.
 * - nginx: the plan's upstream block exists on every old master.
 * - kube-apiserver: the rewriter can handle every old master's config.
 * - plan: isolation taint key != master taint key; apiserverURL on the host's
 *   own address; no `~` in host-side paths.
 */
import { readFile } from 'node:fs/promises';
import { PlanMismatchError } from '../errors';
import type { HostOps } from '../lib/hostops';
import { hostPathsWithTilde } from '../lib/paths';
import { sshTargetOf } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import { renderApiserverConfig, renderNginxConfig } from './controlplane';
import { parseKeepalived, vrrpInstances } from './keepalived-conf';
import { Reasons, type Reason } from './reasons';
import { carriedFrom, defaultPriority, type OldInstance } from './vip';

export interface Sink {
  block(reason: Reason, subject: string, message: string, fix?: string): void;
  warn(reason: Reason, subject: string, message: string): void;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const taintKey = (t: string) => t.split(/[=:]/)[0] ?? t;

/** Plan sanity that validates but misbehaves. */
export function checkPlanSanity(plan: Plan, r: Sink): void {
  const { masterTaint, isolationTaint } = plan.nodes;
  if (taintKey(masterTaint) === taintKey(isolationTaint)) {
    r.block(
      Reasons.PlanTaintKeyConflict,
      'nodes.isolationTaint',
      `nodes.isolationTaint (${isolationTaint}) has the key of nodes.masterTaint (${masterTaint}): cleanup-labels removes the isolation taint by key and would take the master taint with it`,
      'give the isolation taint its own key (default test-only=true:NoSchedule)',
    );
  }
  for (const h of [...plan.oldMasters, ...plan.newMasters]) {
    if (!h.apiserverURL) continue;
    let host = '';
    try {
      host = new URL(h.apiserverURL).hostname;
    } catch {
      host = '';
    }
    if (host !== h.address) {
      r.block(
        Reasons.PlanApiserverURLNotOwnAddress,
        h.name,
        `${h.name}: apiserverURL ${h.apiserverURL} is not on its own address ${h.address}: health checks of this host's apiserver would ask another one`,
        `set apiserverURL to https://${h.address}:${plan.apiserver.securePort} or drop it`,
      );
    }
  }
  for (const p of hostPathsWithTilde(plan)) {
    r.block(
      Reasons.PlanHostPathNotAbsolute,
      'paths',
      `${p}: a path on the hosts must be absolute (remote commands quote it, so ~ would not expand)`,
      'write the absolute path',
    );
  }
}

async function readOn(ops: HostOps, plan: Plan, h: Host, file: string): Promise<string | undefined> {
  return (await ops.readFile(sshTargetOf(plan, h), file))?.toString('utf8');
}

/** The VRRP instance carrying the VIP on each reachable old master, checked against the plan. */
export async function checkKeepalived(plan: Plan, ops: HostOps, olds: readonly Host[], r: Sink): Promise<void> {
  const file = plan.paths.keepalivedConfig;
  const k = plan.keepalived;
  const vip = plan.loadBalancer.vip;
  const found: OldInstance[] = [];
  let pass: string | undefined;
  if (k.authPassFile)
    pass = await readFile(k.authPassFile, 'utf8')
      .then((s) => s.trim())
      .catch(() => undefined);
  for (const h of olds) {
    let text: string | undefined;
    try {
      text = await readOn(ops, plan, h, file);
    } catch (e) {
      r.block(Reasons.KeepalivedConfigUnknown, h.name, `${h.name}: cannot read ${file}: ${errText(e)}`);
      continue;
    }
    if (text === undefined) {
      r.block(Reasons.KeepalivedConfigUnknown, h.name, `${h.name}: no ${file} (paths.keepalivedConfig)`);
      continue;
    }
    const stmts = parseKeepalived(text);
    const inst = vrrpInstances(stmts).find((i) => i.vips.some((v) => (v[0] ?? '').split('/')[0] === vip));
    if (!inst) {
      r.block(Reasons.KeepalivedConfigUnknown, h.name, `${h.name}:${file} has no vrrp_instance carrying the VIP ${vip}`);
      continue;
    }
    const diffs: string[] = [];
    if (inst.virtualRouterId !== k.virtualRouterId)
      diffs.push(`virtual_router_id ${inst.virtualRouterId} (plan keepalived.virtualRouterId ${k.virtualRouterId})`);
    if (inst.interface !== k.interface) diffs.push(`interface ${inst.interface ?? '(none)'} (plan keepalived.interface ${k.interface})`);
    if (inst.authType && !k.authPassFile) diffs.push(`auth_type ${inst.authType}, but the plan has no keepalived.authPassFile`);
    else if (inst.authType && pass === undefined)
      diffs.push(`auth_type ${inst.authType}, but keepalived.authPassFile ${k.authPassFile} cannot be read on the worker`);
    else if (inst.authType && pass !== undefined && (inst.authPass ?? '').slice(0, 8) !== pass.slice(0, 8))
      diffs.push(`its VRRP password differs from keepalived.authPassFile (neither is shown)`);
    if (!inst.authType && k.authPassFile)
      r.warn(Reasons.KeepalivedConfigMismatch, h.name, `${h.name}: its VRRP instance has no authentication; keepalived.authPassFile is not used`);
    if (diffs.length) {
      r.block(
        Reasons.KeepalivedConfigMismatch,
        h.name,
        `${h.name}:${file} vrrp_instance ${inst.name} does not match the plan: ${diffs.join('; ')}; the new masters would not join its VRRP instance`,
      );
      continue;
    }
    found.push({ host: h.name, instance: inst, stmts });
  }
  if (!found.length) return;
  checkTransport(plan, found, r);
  checkPriorities(plan, found, r);
  try {
    const first = plan.newMasters[0];
    if (first) carriedFrom(plan, found[0] as OldInstance, first);
  } catch (e) {
    if (!(e instanceof PlanMismatchError)) throw e;
    r.block(Reasons.KeepalivedBlockNotRemappable, found[0]?.host ?? 'keepalived', e.message);
  }
}

function checkTransport(plan: Plan, found: readonly OldInstance[], r: Sink): void {
  const uni = found.filter((o) => o.instance.unicastPeers);
  if (!uni.length) return;
  if (uni.length !== found.length) {
    r.block(
      Reasons.KeepalivedPeersSplit,
      'keepalived',
      `the old masters mix unicast (${uni.map((o) => o.host).join(', ')}) and multicast (${found
        .filter((o) => !o.instance.unicastPeers)
        .map((o) => o.host)
        .join(', ')}) VRRP: fix that first`,
    );
    return;
  }
  const newAddrs = plan.newMasters.map((h) => h.address);
  for (const o of uni) {
    const missing = newAddrs.filter((a) => !(o.instance.unicastPeers ?? []).includes(a));
    if (missing.length) {
      r.block(
        Reasons.KeepalivedPeersSplit,
        o.host,
        `${o.host}: unicast_peer lacks the new masters ${missing.join(', ')}: old and new keepalived would not hear each other and both would hold ${plan.loadBalancer.vip}`,
        `add ${missing.join(', ')} to unicast_peer on ${o.host} and reload keepalived there (a reload keeps the VIP)`,
      );
    }
  }
}

function checkPriorities(plan: Plan, found: readonly OldInstance[], r: Sink): void {
  const maxOld = Math.max(...found.map((o) => o.instance.priority ?? 100));
  const planned = plan.newMasters.map((h) => ({ name: h.name, priority: h.keepalivedPriority ?? defaultPriority(plan, h.name, maxOld) }));
  const best = Math.max(...planned.map((p) => p.priority));
  if (best <= maxOld) {
    r.block(
      Reasons.KeepalivedPriorityCannotMove,
      'keepalived',
      `no new master's keepalived priority (${planned.map((p) => `${p.name} ${p.priority}`).join(', ')}) is above the old masters' highest (${maxOld}): ` +
        'the VIP would not move to a new master while the old keepalived runs, and vip-failover verifies the new side before it stops the old one',
      `set newMasters[].keepalivedPriority above ${maxOld} (at most 254)${maxOld >= 254 ? `, and lower the old masters' priority below 254 first` : ''}`,
    );
  }
}

/** The plan's upstream block on every old master, and apiserver configs the rewriter can handle. */
export async function checkRewritable(plan: Plan, ops: HostOps, olds: readonly Host[], r: Sink): Promise<void> {
  const target = plan.newMasters[0];
  if (!target) return;
  const host = { ...target, side: 'new' as const };
  const etcdServers = plan.newMasters.map((h) => h.etcd.clientURL);
  for (const h of olds) {
    const src = { host: { ...h, side: 'old' as const } };
    try {
      const text = await readOn(ops, plan, h, plan.paths.nginxConfig);
      if (text === undefined) r.block(Reasons.NginxUpstreamMissing, h.name, `${h.name}: no ${plan.paths.nginxConfig} (paths.nginxConfig)`);
      else renderNginxConfig(plan, { ...src, text }, host);
    } catch (e) {
      r.block(
        Reasons.NginxUpstreamMissing,
        h.name,
        `${h.name}: ${errText(e)}`,
        `check loadBalancer.upstreamName (${plan.loadBalancer.upstreamName}) against ${plan.paths.nginxConfig} there`,
      );
    }
    try {
      const text = await readOn(ops, plan, h, plan.paths.apiserverConfig);
      if (text === undefined) r.block(Reasons.ApiserverConfigUnsupported, h.name, `${h.name}: no ${plan.paths.apiserverConfig} (paths.apiserverConfig)`);
      else renderApiserverConfig(plan, { ...src, text }, host, etcdServers);
    } catch (e) {
      r.block(
        Reasons.ApiserverConfigUnsupported,
        h.name,
        `${h.name}: ${errText(e)}`,
        'write the flag as --flag=VALUE (one token) on the old master, or fix paths.apiserverConfig',
      );
    }
  }
}
