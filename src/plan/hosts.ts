/** Pure lookups over a validated plan. Safe in workflow code (no I/O). */
import { PlanMismatchError } from '../errors';
import { durationMs } from './duration';
import type { Host, Plan, SshAccess } from './schema';
import type { ShapeInput } from './shape';

export type Side = 'old' | 'new';

/** Every master once: a host in both lists (kept) appears once, as the old master it is, with kept: true. */
export function allMasters(plan: Plan): Array<Host & { side: Side; kept?: true }> {
  const kept = new Set(keptMasters(plan).map((h) => h.name));
  return [
    ...plan.oldMasters.map((h) => ({ ...h, side: 'old' as const, ...(kept.has(h.name) ? { kept: true as const } : {}) })),
    ...plan.newMasters.filter((h) => !kept.has(h.name)).map((h) => ({ ...h, side: 'new' as const })),
  ];
}

/** An old master marked state: failed (dead): nothing is run on it. */
export function isFailed(h: Pick<Host, 'state'>): boolean {
  return h.state === 'failed';
}

/** Masters that can be reached (every one but the failed). */
export function reachableMasters(plan: Plan): Array<Host & { side: Side; kept?: true }> {
  return allMasters(plan).filter((h) => !isFailed(h));
}

/** Old masters that are up (not marked failed). */
export function liveOldMasters(plan: Plan): Host[] {
  return plan.oldMasters.filter((h) => !isFailed(h));
}

/** Hosts in both lists: they stay, nothing is removed or re-joined there. */
export function keptMasters(plan: Plan): Host[] {
  return plan.oldMasters.filter((o) => plan.newMasters.some((n) => n.name === o.name));
}

/** New masters that are not already old masters: they are prepared, joined and configured. */
export function addedMasters(plan: Plan): Host[] {
  return plan.newMasters.filter((n) => !plan.oldMasters.some((o) => o.name === n.name));
}

/** Old masters that leave and are up: decommissioned (services stopped, member removed, fenced). */
export function leavingMasters(plan: Plan): Host[] {
  return plan.oldMasters.filter((o) => !isFailed(o) && !plan.newMasters.some((n) => n.name === o.name));
}

/** The planner's view of a plan (src/plan/shape.ts). */
export function shapeOf(plan: Plan): ShapeInput {
  return {
    oldMasters: plan.oldMasters.map((h) => ({ name: h.name, ...(isFailed(h) ? { failed: true } : {}) })),
    newMasters: plan.newMasters.map((h) => ({ name: h.name })),
    ...(plan.strategy ? { strategy: plan.strategy } : {}),
    ...(plan.allowEvenMembers ? { allowEvenMembers: true } : {}),
    ...(plan.acceptToleranceDrop ? { acceptToleranceDrop: true } : {}),
  };
}

export function findHost(plan: Plan, name: string): Host & { side: Side } {
  const h = allMasters(plan).find((x) => x.name === name);
  if (!h)
    throw new Error(
      `host "${name}" is not in the plan (old: ${plan.oldMasters.map((x) => x.name).join(', ')}; new: ${plan.newMasters.map((x) => x.name).join(', ')})`,
    );
  return h;
}

/** findHost for activities: a name the plan does not have is a PlanMismatchError (non-retryable). */
export function masterOf(plan: Plan, name: string): Host & { side: Side } {
  try {
    return findHost(plan, name);
  } catch (e) {
    throw new PlanMismatchError((e as Error).message);
  }
}

/** Everything needed to open an SSH session to a host; secrets are paths. */
export interface SshTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKeyFingerprint?: string;
  knownHostsPath?: string;
  connectTimeoutMs: number;
}

export function sshTargetOf(plan: Plan, host: Pick<Host, 'name' | 'address'> & { ssh?: SshAccess }): SshTarget {
  const s = { ...plan.defaults.ssh, ...host.ssh };
  return {
    name: host.name,
    address: host.address,
    port: s.port ?? 22,
    user: s.user ?? 'root',
    privateKeyPath: s.privateKeyPath ?? '~/.ssh/id_ed25519',
    hostKeyFingerprint: s.hostKeyFingerprint,
    knownHostsPath: s.knownHostsPath,
    connectTimeoutMs: s.connectTimeout ? durationMs(s.connectTimeout) : 10_000,
  };
}

/** The host part of a URL, or '' when it is not a URL. */
export function urlHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

export function apiserverURLOf(plan: Plan, host: Host): string {
  return host.apiserverURL ?? `https://${host.address}:${plan.apiserver.securePort}`;
}
