/**
 * What the etcd activities share: dependencies and timeouts, the member of a
 * host, and the context every operation runs in (log, cancellable pause,
 * reconfiguration retries, bounded waits, the quorum guard, stopping etcd).
 */
import { PlanMismatchError, UnsafeOperationError } from '../../errors';
import type { ClusterEntry } from '../../lib/etcd-config';
import {
  discoverMembers,
  errorText,
  etcdAccess,
  etcdHealth as probeEtcdHealth,
  quorumMembersOf,
  retryReconfig,
  type EtcdAccess,
  type EtcdMember,
} from '../../lib/etcd';
import type { HostOps } from '../../lib/hostops';
import { formatProjection, projectMembershipChange, type MembershipChange } from '../../lib/quorum';
import { serviceCommand } from '../../lib/services';
import { sleep } from '../../lib/sleep';
import { allMasters, masterOf, sshTargetOf, type Side, type SshTarget } from '../../plan/hosts';
import type { Host, Plan } from '../../plan/schema';
import type { MigrationActivities } from '../contract';
import { waitTimer } from '../../lib/waits';
import { activityLog, beat, cancelled } from '../../lib/heartbeat';
import type { EtcdHealthReport } from '../types';

export interface EtcdTimeouts {
  /** deadline of each etcd call */
  callMs: number;
  /** retrying "unhealthy cluster" / "not in sync" on add, promote, remove, move-leader */
  reconfigMs: number;
  /** a joining member: start and catch up */
  joinMs: number;
  /** cluster healthy again after a change */
  healthyMs: number;
  /** leadership visible on the new leader after move-leader */
  leaderMoveMs: number;
  /** each command on a host */
  commandMs: number;
  /** pause between probes while waiting */
  pollMs: number;
  snapshotMs: number;
}

export const DEFAULT_ETCD_TIMEOUTS: EtcdTimeouts = {
  callMs: 5_000,
  reconfigMs: 2 * 60_000,
  joinMs: 10 * 60_000,
  healthyMs: 5 * 60_000,
  leaderMoveMs: 30_000,
  commandMs: 2 * 60_000,
  pollMs: 500,
  snapshotMs: 10 * 60_000,
};

export interface EtcdActivityDeps {
  hostOps: () => HostOps;
  timeouts?: Partial<EtcdTimeouts>;
  /** progress lines; default: the activity logger */
  log?: (msg: string, attrs?: Record<string, unknown>) => void;
}

type EtcdActivityName = 'etcdHealth' | 'etcdSnapshot' | 'etcdJoinMember' | 'etcdAbandonJoin' | 'etcdRemoveMember' | 'etcdRewriteConfig' | 'etcdClientURLs';
export type EtcdActivities = Pick<MigrationActivities, EtcdActivityName>;

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Every etcd client URL the plan knows: where discovery starts. */
export function seedsOf(plan: Plan): string[] {
  return allMasters(plan).map((h) => h.etcd.clientURL);
}

/**
 * The member of `host`: same peer URL, or (byName) same member name. A member
 * with the host's name but another peer URL is a conflict: PlanMismatchError.
 */
export function memberOf(members: readonly EtcdMember[], host: Host, byName = false): EtcdMember | undefined {
  const byUrl = members.find((m) => m.peerURLs.includes(host.etcd.peerURL));
  if (byUrl) return byUrl;
  const named = members.find((m) => m.name !== '' && m.name === host.etcd.name);
  if (named && !byName) {
    throw new PlanMismatchError(
      `etcd member "${named.name}" (${named.id}) exists with peer URLs ${named.peerURLs.join(',')}, but the plan gives ${host.name} the peer URL ${host.etcd.peerURL}`,
    );
  }
  return named;
}

/** initial-cluster entries from a member list; `self` gets its planned name (it has none before it starts). */
export function clusterEntries(members: readonly EtcdMember[], self: { id: string; name: string }): ClusterEntry[] {
  return members.map((m) => ({ name: m.id === self.id ? self.name : m.name, peerURLs: m.peerURLs }));
}

/** The shared operations, bound to one set of dependencies. */
export interface EtcdContext {
  deps: EtcdActivityDeps;
  t: EtcdTimeouts;
  log: (msg: string, attrs?: Record<string, unknown>) => void;
  /** sleep that ends early (rejects) when the activity is cancelled */
  pause: (ms: number) => Promise<void>;
  accessOf: (plan: Plan) => EtcdAccess;
  /** a membership change, retried while etcd refuses it for now */
  reconfig: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  waitUntil: <T>(what: string, deadlineMs: number, probe: () => Promise<{ done: true; value: T } | { done: false; why: string }>) => Promise<T>;
  waitHealthy: (access: EtcdAccess, endpoints: readonly string[], what: string, allowLearnerId?: string) => Promise<EtcdHealthReport>;
  guard: (what: string, report: EtcdHealthReport, change: MembershipChange) => void;
  /** stop etcd on a host, best effort: says what happened */
  stopService: (ops: HostOps, plan: Plan, target: SshTarget) => Promise<string>;
  /** what an operation on one host's member starts from */
  onHost: (plan: Plan, hostName: string) => Promise<OnHost>;
}

/** The plan's host (PlanMismatchError if absent), its SSH target, etcd access and the live member list. */
export interface OnHost {
  host: Host & { side: Side };
  ops: HostOps;
  target: SshTarget;
  access: EtcdAccess;
  d: Awaited<ReturnType<typeof discoverMembers>>;
}

export function etcdContext(deps: EtcdActivityDeps): EtcdContext {
  const t: EtcdTimeouts = { ...DEFAULT_ETCD_TIMEOUTS, ...deps.timeouts };
  const log = (msg: string, attrs?: Record<string, unknown>): void => {
    if (deps.log) deps.log(msg, attrs);
    else activityLog().info(msg, attrs);
  };
  /** sleep that ends early (rejects) when the activity is cancelled */
  const pause = (ms: number): Promise<void> => Promise.race([sleep(ms), cancelled()]);
  const accessOf = (plan: Plan): EtcdAccess => etcdAccess(plan, t.callMs);

  const reconfig = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retryReconfig(what, fn, {
      deadlineMs: t.reconfigMs,
      sleep: pause,
      onRetry: (attempt, err, waitMs) => {
        beat({ retrying: what, attempt });
        if (attempt === 1 || attempt % 5 === 0) log(`${what}: retrying in ${waitMs}ms`, { attempt, error: errorText(err) });
      },
    });

  /** Poll until `probe` says done; heartbeats; throws with the last reason at the deadline. */
  async function waitUntil<T>(what: string, deadlineMs: number, probe: () => Promise<{ done: true; value: T } | { done: false; why: string }>): Promise<T> {
    const started = Date.now();
    const timer = waitTimer(what);
    let why = 'not checked yet';
    for (;;) {
      timer.check();
      const r = await probe();
      if (r.done) {
        timer.done();
        return r.value;
      }
      timer.notYet();
      why = r.why;
      const elapsed = Date.now() - started;
      beat({ waitingFor: what, elapsedMs: elapsed, why });
      if (elapsed >= deadlineMs) {
        timer.done(false);
        throw new Error(`timed out after ${secs(elapsed)} waiting for ${what}: ${why}`);
      }
      await pause(t.pollMs);
    }
  }

  async function waitHealthy(access: EtcdAccess, endpoints: readonly string[], what: string, allowLearnerId?: string): Promise<EtcdHealthReport> {
    return waitUntil(what, t.healthyMs, async () => {
      const rep = await probeEtcdHealth(access, endpoints, allowLearnerId ? { allowLearnerId } : {});
      return rep.healthy ? { done: true, value: rep } : { done: false, why: rep.problems.join('; ') };
    });
  }

  /** Health + quorum projection; UnsafeOperationError listing every reason when unsafe. */
  function guard(what: string, report: EtcdHealthReport, change: MembershipChange): void {
    const projection = projectMembershipChange(quorumMembersOf(report), change);
    log(`quorum check for ${what}: ${formatProjection(change, projection)}`);
    const alarmNote = report.alarms.length
      ? [
          `active alarm (${report.alarms.join(', ')}): no membership change while an alarm is raised; resolve its cause (NOSPACE: compact, defragment, raise the quota; CORRUPT: replace the member), then \`etcdctl alarm disarm\``,
        ]
      : [];
    const blockers = [...new Set([...projection.reasons, ...alarmNote, ...report.problems])];
    if (blockers.length === 0) return;
    throw new UnsafeOperationError(
      `refusing to ${what}: etcd quorum safety check failed (voters ${projection.votersBefore} -> ${projection.votersAfter}, ` +
        `quorum after ${projection.quorumAfter}, healthy voters after ${projection.healthyVotersAfter}):\n  * ${blockers.join('\n  * ')}`,
      blockers,
    );
  }

  async function stopService(ops: HostOps, plan: Plan, target: SshTarget): Promise<string> {
    try {
      const r = await ops.run(target, serviceCommand(plan.etcd.service, 'stop'), { timeoutMs: t.commandMs, allowFailure: true });
      return r.exitCode === 0 ? `etcd stopped on ${target.name}` : `stopping etcd on ${target.name} exited ${r.exitCode} (ignored)`;
    } catch (err) {
      return `stopping etcd on ${target.name} failed (ignored): ${errorText(err)}`;
    }
  }

  async function onHost(plan: Plan, hostName: string): Promise<OnHost> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const target = sshTargetOf(plan, host);
    const access = accessOf(plan);
    const d = await discoverMembers(access, seedsOf(plan));
    return { host, ops, target, access, d };
  }

  return { deps, t, log, pause, accessOf, reconfig, waitUntil, waitHealthy, guard, stopService, onHost };
}
