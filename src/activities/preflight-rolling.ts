/**
 * Preflight for `strategy: rolling`: an old master whose etcd member leaves
 * early (etcd-leave/<host>, before the VIP switch) still serves the API
 * behind the LB until its decommission, and so does every other old master.
 * A kube-apiserver whose --etcd-servers reach only members that have left by
 * then (kubeadm's stacked etcd points each apiserver at 127.0.0.1:2379, its own
 * member) would answer every request with an error. Found here, before
 * anything changes; grow-then-shrink removes old members only after the VIP
 * moved and the old apiservers stopped.
 */
import type { HostOps } from '../lib/hostops';
import { isFailed, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { earlyLeavers } from '../plan/steps';
import { Reasons } from './reasons';
import type { Sink } from './preflight-live';
import { flagValues } from './rewrite';

export interface StrandedApiserver {
  /** the old master whose apiserver would lose etcd */
  host: string;
  /** the etcd-leave step after which it has no member left */
  after: string;
  servers: string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The etcd member (plan host name) a --etcd-servers URL reaches from `on`; undefined when it is no master's. */
function memberOf(plan: Plan, on: string, url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (LOOPBACK.has(u.hostname)) return on;
  const port = u.port || '2379';
  return [...plan.oldMasters, ...plan.newMasters].find((h) => {
    const c = new URL(h.etcd.clientURL);
    return (c.hostname === u.hostname || h.address === u.hostname) && (c.port || '2379') === port;
  })?.name;
}

/**
 * Pure: the old apiservers that would have no etcd member left at some
 * etcd-leave step. `servers` maps an old master to its apiserver's
 * --etcd-servers; a URL that is no master's member (an external etcd) is
 * assumed to stay.
 */
export function strandedApiservers(plan: Plan, servers: ReadonlyMap<string, readonly string[]>): StrandedApiserver[] {
  const left = new Set<string>();
  const out: StrandedApiserver[] = [];
  // every live old master serves until its decommission; a kept one until the end
  const serving = plan.oldMasters.filter((h) => !isFailed(h));
  for (const leaver of earlyLeavers(plan)) {
    left.add(leaver);
    for (const h of serving) {
      const urls = servers.get(h.name);
      if (!urls?.length || out.some((o) => o.host === h.name)) continue;
      if (
        urls.every((u) => {
          const m = memberOf(plan, h.name, u);
          return m !== undefined && left.has(m);
        })
      ) {
        out.push({ host: h.name, after: `etcd-leave/${leaver}`, servers: [...urls] });
      }
    }
  }
  return out;
}

/** Reads every serving old master's --etcd-servers and blocks on each apiserver a rolling migration would strand. */
export async function checkRollingEtcdServers(plan: Plan, ops: HostOps, olds: ReadonlyArray<Plan['oldMasters'][number]>, r: Sink): Promise<void> {
  if (earlyLeavers(plan).length === 0) return;
  const servers = new Map<string, string[]>();
  for (const h of olds) {
    const text = (await ops.readFile(sshTargetOf(plan, h), plan.paths.apiserverConfig).catch(() => undefined))?.toString('utf8');
    const urls = text
      ? flagValues(text, 'etcd-servers')
          .flatMap((v) => v.split(','))
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
    if (urls.length) servers.set(h.name, urls);
  }
  for (const s of strandedApiservers(plan, servers)) {
    r.block(
      Reasons.RollingStrandsApiserver,
      s.host,
      `strategy rolling: after ${s.after} the kube-apiserver on ${s.host} (still serving behind the LB until its decommission) reaches etcd only through --etcd-servers=${s.servers.join(',')}, whose members have left by then: it would fail every request`,
      `use strategy: grow-then-shrink (old members leave only after the VIP moved and the old apiservers stopped), or first list every old member in --etcd-servers on ${s.host}`,
    );
  }
}
