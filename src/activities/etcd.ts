/**
 * etcd activities: health, snapshot, and one membership change at a time
 * (learner add -> catch up -> promote; leader move -> remove), plus the
 * config rewrite after the old members are gone and the live client URLs.
 *
 * Every activity guards itself (health + quorum projection before a change,
 * UnsafeOperationError when unsafe: non-retryable) and is idempotent
 * (member already added / already removed / config already written = success).
 * Hosts are reached through an injected HostOps (SSH in production).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PlanMismatchError, UnsafeOperationError } from '../errors';
import { failpoint } from '../lib/failpoint';
import { enableAtBoot } from './component-state';
import { appliedState, isCurrent, recordApplied, withStamp } from '../lib/applied';
import { BOOTSTRAP_ONLY_KEYS, changedKeys, runtimeDigest, type ClusterEntry } from '../lib/etcd-config';
import { QUOTA_HEADROOM, quotaRefusal, versionRefusals, type MemberVersion } from '../lib/etcd-gates';
import { deriveEtcdMemberConfig, describeDerived, quotaBytesOf, sourceSettings, type DerivedEtcdConfig, type EtcdConfigSource } from '../lib/etcd-member-config';
import {
  discoverMembers,
  errorText,
  etcdAccess,
  etcdHealth as probeEtcdHealth,
  isMemberHealthy,
  memberLabel,
  quorumMembersOf,
  retryReconfig,
  sleep,
  streamSnapshot,
  toMember,
  voterEndpoints,
  withEtcdClient,
  type EtcdAccess,
  type EtcdMember,
} from '../lib/etcd';
import { pushOptionsLike } from '../lib/file-meta';
import type { HostOps } from '../lib/hostops';
import { formatProjection, projectMembershipChange, quorumOf, type MembershipChange } from '../lib/quorum';
import { serviceCommand } from '../lib/services';
import { allMasters, isFailed, sshTargetOf, type Side, type SshTarget } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import type { MigrationActivities } from './contract';
import { joiningBinaryVersion } from './etcd-binary';
import { checkHashKV, readVersions } from './etcd-data';
import { readEtcdSource, readOldEtcdSource } from './etcd-source';
import { waitTimer } from '../lib/waits';
import { activityLog, beat, cancelled, workflowExecutionOfActivity } from './heartbeat';
import type { EtcdHealthReport, JoinResult, RemoveResult, SnapshotResult, StepOutcome } from './types';

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

type EtcdActivityName =
  | 'etcdHealth'
  | 'etcdSnapshot'
  | 'etcdJoinMember'
  | 'etcdAbandonJoin'
  | 'etcdRemoveMember'
  | 'etcdRewriteConfig'
  | 'etcdClientURLs';
export type EtcdActivities = Pick<MigrationActivities, EtcdActivityName>;

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A master of the plan by name; PlanMismatchError (non-retryable) if absent. */
function masterOf(plan: Plan, hostName: string): Host & { side: Side } {
  const h = allMasters(plan).find((x) => x.name === hostName);
  if (!h) {
    throw new PlanMismatchError(
      `host "${hostName}" is not a master in the plan (old: ${plan.oldMasters.map((x) => x.name).join(', ')}; new: ${plan.newMasters.map((x) => x.name).join(', ')})`,
    );
  }
  return h;
}

/** Every etcd client URL the plan knows: where discovery starts. */
function seedsOf(plan: Plan): string[] {
  return allMasters(plan).map((h) => h.etcd.clientURL);
}

/**
 * The member of `host`: same peer URL, or (byName) same member name. A member
 * with the host's name but another peer URL is a conflict: PlanMismatchError.
 */
function memberOf(members: readonly EtcdMember[], host: Host, byName = false): EtcdMember | undefined {
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
function clusterEntries(members: readonly EtcdMember[], self: { id: string; name: string }): ClusterEntry[] {
  return members.map((m) => ({ name: m.id === self.id ? self.name : m.name, peerURLs: m.peerURLs }));
}

export function createEtcdActivities(deps: EtcdActivityDeps): EtcdActivities {
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
      ? [`active alarm (${report.alarms.join(', ')}): no membership change while an alarm is raised; resolve its cause (NOSPACE: compact, defragment, raise the quota; CORRUPT: replace the member), then \`etcdctl alarm disarm\``]
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

  interface PushedConfig {
    changed: boolean;
    keys: string[];
    existed: boolean;
    derived: DerivedEtcdConfig;
    source: EtcdConfigSource;
  }

  /** The member's config, derived from `source` (a live member's config): only per-member keys change. */
  async function pushConfig(ops: HostOps, plan: Plan, target: SshTarget, host: Host, entries: ClusterEntry[], source: EtcdConfigSource): Promise<PushedConfig> {
    const file = plan.paths.etcdConfig;
    const before = (await ops.readFile(target, file))?.toString('utf8');
    const derived = deriveEtcdMemberConfig(source, memberInput(plan, host, entries));
    const text = derived.text;
    if (before === text) return { changed: false, keys: [], existed: true, derived, source };
    // the source file's mode and owner (and its directory's); a member configured by flags has no file: 0600, as etcd's own files
    const pushed = await ops.pushFile(target, file, text, pushOptionsLike(source.meta, { mode: 0o600 }, { backup: true }));
    return { changed: pushed.changed, keys: changedKeys(before, text), existed: before !== undefined, derived, source };
  }

  function memberInput(plan: Plan, host: Host, entries: ClusterEntry[]): Parameters<typeof deriveEtcdMemberConfig>[1] {
    return {
      name: host.etcd.name,
      address: host.address,
      dataDir: plan.paths.etcdDataDir,
      peerURL: host.etcd.peerURL,
      clientURL: host.etcd.clientURL,
      initialCluster: entries,
      pkiDir: plan.paths.pkiDir,
      preVote: true,
    };
  }

  /** Versions (learner bug, mixes) and the new member's quota against the database size; UnsafeOperationError listing every refusal. */
  function gateBeforeAdd(what: string, versions: readonly MemberVersion[], learner: boolean, health: EtcdHealthReport, source: EtcdConfigSource): string {
    const refusals = versionRefusals(versions, { learnerJoin: learner });
    const quota = quotaBytesOf(sourceSettings(source));
    const dbs = health.members.filter((m) => m.dbSize !== undefined).map((m) => ({ label: memberLabel(m), bytes: m.dbSize as number }));
    const q = quotaRefusal(quota, dbs);
    if (q) refusals.push(q);
    if (refusals.length) throw new UnsafeOperationError(`refusing to ${what}:\n  * ${refusals.join('\n  * ')}`, refusals);
    const biggest = Math.max(0, ...dbs.map((x) => x.bytes));
    return `versions ${[...new Set(versions.map((v) => v.version))].join(', ')}; quota ${quota} >= ${QUOTA_HEADROOM} x db ${biggest}`;
  }

  /** A live member's config to start from: an old master's (in plan order), else another started member's. */
  async function sourceFor(ops: HostOps, plan: Plan, members: readonly EtcdMember[], self: Host): Promise<EtcdConfigSource> {
    const isLive = (h: Host) => members.some((m) => m.name !== '' && m.peerURLs.includes(h.etcd.peerURL));
    const candidates = [...plan.oldMasters.filter(isLive), ...plan.newMasters.filter((h) => h.name !== self.name && isLive(h))];
    return readOldEtcdSource(ops, plan, candidates, t.commandMs);
  }

  async function learnerSupport(access: EtcdAccess, endpoints: readonly string[]): Promise<{ supported: boolean; version: string }> {
    const st = await withEtcdClient(access, endpoints, (c) => c.maintenance.status());
    const m = /^(\d+)\.(\d+)/.exec(st.version);
    const supported = m ? Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 4) : true;
    return { supported, version: st.version };
  }

  /** Old masters' members that do not answer (dead hosts), removed one at a time when the projection allows it. */
  async function removeDeadOldMembers(plan: Plan, access: EtcdAccess, members: readonly EtcdMember[], targetId: string): Promise<string[]> {
    const oldPeers = new Set(plan.oldMasters.map((h) => h.etcd.peerURL));
    const notes: string[] = [];
    for (const m of members) {
      if (m.id === targetId || !m.peerURLs.some((u) => oldPeers.has(u))) continue;
      const live = await discoverMembers(access, seedsOf(plan));
      const endpoints = live.endpoints.filter((u) => !m.clientURLs.includes(u));
      const rep = await probeEtcdHealth(access, endpoints.length ? endpoints : live.endpoints, { leavingId: m.id });
      const me = rep.members.find((x) => x.id === m.id);
      if (!me || isMemberHealthy(me)) continue;
      guard(`remove the dead old member ${memberLabel(m)} first`, rep, { kind: 'remove', id: m.id });
      await reconfig(`member remove ${memberLabel(m)} (dead)`, async () => {
        try {
          await withEtcdClient(access, endpoints, (c) => c.cluster.memberRemove({ ID: m.id }));
        } catch (err) {
          if (!/member not found/.test(errorText(err))) throw err;
        }
      });
      const host = plan.oldMasters.find((h) => m.peerURLs.includes(h.etcd.peerURL));
      failpoint('etcd.remove.after-member-remove', host?.name);
      log(`removed dead old member ${memberLabel(m)} first`, { id: m.id, error: me.error });
      notes.push(`removed the dead old member ${memberLabel(m)} first (${me.error ?? 'unreachable'})`);
    }
    return notes;
  }

  const activities: EtcdActivities = {
    /** Probe every member; never throws for an unhealthy cluster: problems are reported. */
    async etcdHealth(plan: Plan): Promise<EtcdHealthReport> {
      const access = accessOf(plan);
      try {
        const d = await discoverMembers(access, seedsOf(plan));
        // the members of old masters marked failed are reported on, but their state is not the cluster's problem
        const failedPeers = new Set(plan.oldMasters.filter(isFailed).map((h) => h.etcd.peerURL));
        const deadIds = d.members.filter((m) => m.peerURLs.some((u) => failedPeers.has(u))).map((m) => m.id);
        return await probeEtcdHealth(access, d.endpoints, deadIds.length ? { deadIds } : {});
      } catch (err) {
        return { healthy: false, members: [], alarms: [], problems: [`etcd health unknown: ${errorText(err)}`] };
      }
    },

    /**
     * Snapshot to plan.etcd.snapshotPath on the worker (temp file + rename).
     * A sidecar PATH.json records cluster, etcd cluster id, revision, sha256
     * and the workflow id and run id of the migration that took it. A snapshot
     * taken by THIS workflow run (a retry of this activity) of the same cluster,
     * whose file still matches, is kept (idempotent). Anything else there -- a
     * foreign file, or a snapshot left by an earlier (e.g. aborted) migration of
     * the same cluster -- is kept as PATH.cpmigrate-bak-<sha8> and a fresh one is
     * taken: it must be this migration's pre-change backup. Outside an activity
     * (no workflow identity) a snapshot is never reused.
     * `revision` is the store revision when the snapshot started.
     */
    async etcdSnapshot(plan: Plan): Promise<SnapshotResult> {
      const access = accessOf(plan);
      const file = plan.etcd.snapshotPath;
      const metaFile = `${file}.json`;
      const d = await discoverMembers(access, seedsOf(plan));
      const endpoint = d.answeredBy;
      const status = await withEtcdClient(access, [endpoint], (c) => c.maintenance.status());
      const clusterId = status.header.cluster_id;
      const run = workflowExecutionOfActivity();

      const existing = await stat(file).catch(() => undefined);
      if (existing) {
        const fileSha = await sha256File(file);
        const meta = await readFile(metaFile, 'utf8')
          .then((s) => JSON.parse(s) as { cluster?: string; etcdClusterId?: string; revision?: string; sha256?: string; workflowId?: string; runId?: string })
          .catch(() => undefined);
        // this cluster's snapshot, intact; reused only by the workflow run that took it (a retry of this activity)
        const ours = meta !== undefined && meta.cluster === plan.cluster && meta.etcdClusterId === clusterId && meta.sha256 === fileSha && Boolean(meta.revision);
        if (ours && meta.revision && run && meta.workflowId === run.workflowId && meta.runId === run.runId) {
          log(`snapshot ${file} already taken for this migration: kept`, { revision: meta.revision, ...run });
          return { path: file, sizeBytes: existing.size, revision: meta.revision, sha256: fileSha };
        }
        const aside = `${file}.cpmigrate-bak-${fileSha.slice(0, 8)}`;
        await rename(file, aside);
        if (ours) await rename(metaFile, `${aside}.json`).catch(() => undefined);
        const whose = ours
          ? `a snapshot of this cluster taken by ${meta.workflowId ? `another migration (workflow ${meta.workflowId}, run ${meta.runId ?? '?'})` : 'an unidentified run'}`
          : 'a snapshot file not taken by this migration';
        log(`${whose} was at ${file}: moved to ${aside}; taking a fresh one`);
      }

      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.part-${process.pid}-${Date.now()}`;
      const hash = createHash('sha256');
      const fd = openSync(tmp, 'w', 0o600);
      let lastBeat = 0;
      try {
        const { bytes } = await streamSnapshot(access, endpoint, t.snapshotMs, (chunk) => {
          writeSync(fd, chunk);
          hash.update(chunk);
          if (Date.now() - lastBeat > 1_000) {
            lastBeat = Date.now();
            beat({ snapshot: file });
          }
        });
        fsyncSync(fd);
        closeSync(fd);
        const sha256 = hash.digest('hex');
        failpoint('etcd.snapshot.after-stream');
        await rename(tmp, file);
        failpoint('etcd.snapshot.after-rename');
        const meta = {
          cluster: plan.cluster,
          etcdClusterId: clusterId,
          revision: status.header.revision,
          sha256,
          sizeBytes: bytes,
          fromMember: status.header.member_id,
          endpoint,
          takenAt: new Date().toISOString(),
          ...(run ? { workflowId: run.workflowId, runId: run.runId } : {}),
        };
        await writeFile(`${metaFile}.tmp`, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
        await rename(`${metaFile}.tmp`, metaFile);
        log(`etcd snapshot written to ${file}`, meta);
        return { path: file, sizeBytes: bytes, revision: meta.revision, sha256 };
      } catch (err) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    },

    /**
     * Add the host's member (learner, then promote once caught up), write its
     * config with initial-cluster-state=existing, start it, wait healthy.
     * Re-running picks up where a previous attempt stopped.
     */
    async etcdJoinMember(plan: Plan, hostName: string): Promise<JoinResult> {
      const host = masterOf(plan, hostName);
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const access = accessOf(plan);
      const t0 = Date.now();
      const d = await discoverMembers(access, seedsOf(plan));
      let member = memberOf(d.members, host);
      const notes: string[] = [];

      if (member && !member.isLearner && member.name) {
        const rep = await waitHealthy(access, d.endpoints, `etcd healthy (member ${host.etcd.name} already a voter)`);
        // a retry after the last join: the HashKV check may not have run yet
        const allJoined = plan.newMasters.every((h) => rep.members.some((m) => !m.isLearner && m.name !== '' && m.peerURLs.includes(h.etcd.peerURL)));
        const hk = allJoined ? `; ${(await checkHashKV(access, d.members, `go on after the last join (${host.etcd.name})`)).summary}` : '';
        return {
          memberId: member.id,
          name: member.name,
          alreadyMember: true,
          usedLearner: false,
          members: rep.members.length,
          summary: `${memberLabel(member)} is already a started voting member: nothing to do; ${rep.members.length} members healthy${hk}`,
        };
      }

      const alreadyMember = member !== undefined;
      let source: EtcdConfigSource | undefined;
      let initial: EtcdMember[];
      let usedLearner: boolean;
      if (!member) {
        const health = await probeEtcdHealth(access, d.endpoints);
        const { supported, version } = await learnerSupport(access, d.endpoints);
        guard(`add etcd member ${host.etcd.name} (${host.etcd.peerURL})`, health, { kind: supported ? 'addLearner' : 'addVoter' });
        source = await sourceFor(ops, plan, d.members, host);
        // the binary the new member will run joins the version gate before the add (a 3.4 leader panics when a 3.6 member connects)
        const joining = await joiningBinaryVersion(ops, plan, host, t.commandMs);
        const versions = [...(await readVersions(access, d.members)), ...('version' in joining ? [{ label: `${host.etcd.name} (to join; ${joining.how})`, version: joining.version }] : [])];
        notes.push(gateBeforeAdd(`add etcd member ${host.etcd.name} (${host.etcd.peerURL})`, versions, supported, health, source));
        if ('unknown' in joining) notes.push(`version of the joining binary unknown (${joining.unknown}): checked again once it runs`);

        // Prepare the host before touching the cluster: a failure here leaves no member behind.
        for (const cmd of plan.etcd.prepareDataDir) await ops.run(target, cmd, { timeoutMs: t.commandMs });
        failpoint('etcd.join.after-data-dir-prep', host.name);
        // A data dir left by an earlier, removed member has another member id: etcd would refuse it.
        const member0 = `${plan.paths.etcdDataDir}/member`;
        const parked = await ops.run(
          target,
          `if [ -d ${shq(member0)} ]; then mv ${shq(member0)} ${shq(member0)}.cpmigrate-stale-$(date +%s) && echo parked; fi`,
          { timeoutMs: t.commandMs },
        );
        if (parked.stdout.includes('parked')) notes.push(`an old ${member0} was moved aside`);

        const added = await reconfig(`member add ${host.etcd.name}`, async () => {
          try {
            return await withEtcdClient(access, d.endpoints, (c) => c.cluster.memberAdd({ peerURLs: [host.etcd.peerURL], isLearner: supported }));
          } catch (err) {
            if (!/peer ?urls? already exists/i.test(errorText(err))) throw err;
            // an earlier attempt got through (e.g. the reply was lost): use the live list
            const now = await withEtcdClient(access, d.endpoints, (c) => c.cluster.memberList({}));
            const mine = now.members.find((m) => (m.peerURLs ?? []).includes(host.etcd.peerURL));
            if (!mine) throw err;
            return { header: now.header, member: mine, members: now.members };
          }
        });
        failpoint('etcd.join.after-member-add', host.name);
        member = toMember(added.member);
        initial = added.members.map(toMember);
        usedLearner = member.isLearner;
        if (!supported) notes.push(`etcd ${version} has no learners: added as a voting member (plain member add)`);
        else if (!member.isLearner) notes.push('the server ignored the learner flag: added as a voting member');
        log(`member ${host.etcd.name} added`, { id: member.id, learner: member.isLearner, members: initial.length });
      } else {
        // prepareDataDir ran before that add (it always runs first): not run again
        initial = d.members;
        usedLearner = member.isLearner;
        notes.push(`member ${member.id} was already added (${member.isLearner ? 'learner' : 'voter not started'}): continued`);
      }
      const self = member;

      source ??= await sourceFor(ops, plan, initial, host);
      const cfg = await pushConfig(ops, plan, target, host, clusterEntries(initial, { id: self.id, name: host.etcd.name }), source);
      failpoint('etcd.join.after-config-write', host.name);
      await ops.run(target, serviceCommand(plan.etcd.service, 'start'), { timeoutMs: t.commandMs });
      failpoint('etcd.join.after-start', host.name);
      await enableAtBoot(ops, target, plan.etcd.service);
      const tStart = Date.now();

      // Learners fail `endpoint health`: the probe uses status (raft index) on every member.
      // An etcd that died while joining (killed, OOM) is started again, a bounded number of times.
      let restarts = 0;
      let lastStatusCheck = Date.now();
      const revive = async (rep: EtcdHealthReport): Promise<void> => {
        const mine = rep.members.find((m) => m.id === self.id);
        if (!mine || mine.reachable || restarts >= 3 || Date.now() - lastStatusCheck < 3_000) return;
        lastStatusCheck = Date.now();
        const st = await ops.run(target, serviceCommand(plan.etcd.service, 'status'), { timeoutMs: t.commandMs, allowFailure: true });
        if (st.exitCode === 0) return;
        restarts++;
        log(`etcd on ${host.name} is not running while joining: starting it again (${restarts}/3)`);
        await ops.run(target, serviceCommand(plan.etcd.service, 'start'), { timeoutMs: t.commandMs });
        notes.push(`etcd on ${host.name} stopped while joining and was started again`);
      };
      try {
        await waitUntil(`etcd member ${host.etcd.name} on ${host.name} to start and catch up`, t.joinMs, async () => {
          const rep = await probeEtcdHealth(access, d.endpoints, { allowLearnerId: self.id });
          if (rep.members.length && !rep.members.some((m) => m.id === self.id)) {
            throw new Error(`member ${self.id} of ${host.name} disappeared from the member list while joining`);
          }
          if (rep.healthy) return { done: true, value: rep };
          await revive(rep);
          return { done: false, why: rep.problems.join('; ') };
        });
      } catch (err) {
        const st = await ops
          .run(target, serviceCommand(plan.etcd.service, 'status'), { timeoutMs: t.commandMs, allowFailure: true })
          .then((r) => `service status on ${host.name} exits ${r.exitCode}`)
          .catch((e: unknown) => `service status unknown: ${errorText(e)}`);
        throw new Error(`${errorText(err)} (${st})`);
      }
      const caughtUp = Date.now() - tStart;

      let promoted = false;
      if (self.isLearner) {
        const rep = await probeEtcdHealth(access, d.endpoints, { allowLearnerId: self.id });
        const fresh = rep.members.find((m) => m.id === self.id);
        if (fresh?.isLearner) {
          guard(`promote etcd learner ${host.etcd.name}`, rep, { kind: 'promote', id: self.id });
          // the started member's own version joins the mix: refuse a promotion into a mix the upgrade docs forbid
          const mix = versionRefusals(await readVersions(access, (await discoverMembers(access, seedsOf(plan))).members), { learnerJoin: false });
          if (mix.length) throw new UnsafeOperationError(`refusing to promote etcd learner ${host.etcd.name}:\n  * ${mix.join('\n  * ')}`, mix);
          await reconfig(`promote ${host.etcd.name}`, async () => {
            try {
              await withEtcdClient(access, d.endpoints, (c) => c.cluster.memberPromote({ ID: self.id }));
            } catch (err) {
              // "can only promote a learner member": an earlier attempt got through
              if (/can only promote a learner member$/.test(errorText(err).trim())) return;
              throw err;
            }
          });
          promoted = true;
          failpoint('etcd.join.after-promote', host.name);
          log(`member ${host.etcd.name} promoted`, { id: self.id });
        }
      }

      const after = await discoverMembers(access, seedsOf(plan));
      const final = await waitUntil(`etcd healthy after ${host.etcd.name} joined`, t.healthyMs, async () => {
        const rep = await probeEtcdHealth(access, after.endpoints);
        if (rep.healthy) return { done: true, value: rep };
        await revive(rep);
        return { done: false, why: rep.problems.join('; ') };
      });
      const voters = final.members.filter((m) => !m.isLearner).length;
      // after the last join: every member's key-value store must agree before anything is removed
      const allJoined = plan.newMasters.every((h) => final.members.some((m) => !m.isLearner && m.name !== '' && m.peerURLs.includes(h.etcd.peerURL)));
      if (allJoined) notes.push((await checkHashKV(access, after.members, `go on after the last join (${host.etcd.name})`)).summary);
      const how = self.isLearner ? `as learner, caught up in ${secs(caughtUp)}${promoted ? ', promoted' : ''}` : 'as voting member';
      return {
        memberId: self.id,
        name: host.etcd.name,
        alreadyMember,
        usedLearner,
        members: final.members.length,
        config: {
          source: cfg.source.origin,
          carried: cfg.derived.carried,
          changed: cfg.derived.changed.map((c) => c.key),
          dropped: cfg.derived.dropped.map((x) => x.key),
        },
        summary:
          `${host.etcd.name} (${self.id}) joined ${how}; config ${cfg.changed ? 'written' : 'unchanged'} (${describeDerived(cfg.derived, cfg.source.origin)}); ` +
          `${voters} voting members healthy, ${secs(Date.now() - t0)} in all${notes.length ? `; ${notes.join('; ')}` : ''}`,
      };
    },

    /**
     * Compensation for a join that failed for good: remove the host's member
     * if it is a learner or never started, after stopping its etcd (best
     * effort). A started voter is left alone.
     */
    async etcdAbandonJoin(plan: Plan, hostName: string): Promise<RemoveResult> {
      const host = masterOf(plan, hostName);
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const access = accessOf(plan);
      const d = await discoverMembers(access, seedsOf(plan));
      const member = memberOf(d.members, host);
      if (!member) {
        const stopped = await stopService(ops, plan, target);
        return {
          alreadyRemoved: true,
          leaderMoved: false,
          members: d.members.length,
          summary: `no etcd member with peer URL ${host.etcd.peerURL}: nothing to remove (${stopped})`,
        };
      }
      if (!member.isLearner && member.name) {
        const rep = await probeEtcdHealth(access, d.endpoints);
        const me = rep.members.find((m) => m.id === member.id);
        return {
          memberId: member.id,
          alreadyRemoved: false,
          leaderMoved: false,
          members: d.members.length,
          summary:
            `${memberLabel(member)} is a started voting member (${me && isMemberHealthy(me) ? 'healthy' : `not healthy: ${me?.error ?? 'unknown'}`}): ` +
            'left alone; removing a voter is etcdRemoveMember with its quorum checks',
        };
      }
      const kind = member.isLearner ? 'learner' : 'voting member that never started';
      const stopped = await stopService(ops, plan, target);
      failpoint('etcd.abandon.after-stop', host.name);
      // Removing a learner or a never-started member cannot cost quorum: no projection needed.
      const voters = d.endpoints.length ? d.endpoints : voterEndpoints(d.members);
      await reconfig(`remove ${kind} ${memberLabel(member)}`, async () => {
        try {
          await withEtcdClient(access, voters, (c) => c.cluster.memberRemove({ ID: member.id }));
        } catch (err) {
          if (!/member not found/.test(errorText(err))) throw err;
        }
      });
      const after = await discoverMembers(access, seedsOf(plan));
      log(`abandoned join of ${host.name}: removed ${kind}`, { id: member.id });
      return {
        memberId: member.id,
        alreadyRemoved: false,
        leaderMoved: false,
        members: after.members.length,
        summary: `removed ${kind} ${memberLabel(member)} of ${host.name}; ${stopped}; ${after.members.length} members remain`,
      };
    },

    /**
     * Remove the host's member (by member name or peer URL): health and quorum
     * checked first; leadership moved to a healthy new master first when the
     * member leads; etcd stopped on the host afterwards (best effort); waits
     * until the cluster is healthy. Already removed = success.
     */
    async etcdRemoveMember(plan: Plan, hostName: string): Promise<RemoveResult> {
      const host = masterOf(plan, hostName);
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const access = accessOf(plan);
      const t0 = Date.now();
      let d = await discoverMembers(access, seedsOf(plan));
      const member = memberOf(d.members, host, true);
      // a failed (dead) old master is never touched: its member is removed through the others, no SSH to it
      const stopHere = (): Promise<string> => (isFailed(host) ? Promise.resolve(`nothing run on ${host.name} (marked failed)`) : stopService(ops, plan, target));
      if (!member) {
        const stopped = await stopHere();
        // same postcondition as a removal done here: an earlier attempt may have removed it and died before the cluster settled
        const final = await waitHealthy(access, d.endpoints, `etcd healthy (member of ${host.name} already removed)`);
        return {
          alreadyRemoved: true,
          leaderMoved: false,
          members: final.members.length,
          summary: `etcd member of ${host.name} (${host.etcd.name}, ${host.etcd.peerURL}) is not in the member list: already removed; ${stopped}; ${final.members.length} members healthy`,
        };
      }

      // An old master that died (powered off) stays unhealthy in the member list and would block every
      // later removal: remove it first, each removal quorum-checked, so the margin never shrinks to a dead member.
      const deadNotes = await removeDeadOldMembers(plan, access, d.members, member.id);
      if (deadNotes.length) d = await discoverMembers(access, seedsOf(plan));

      // the member being removed may be dead (an old master powered off): its own state is not a blocker,
      // the projection counts it as unhealthy, every other member must be healthy
      const others = d.endpoints.filter((u) => !member.clientURLs.includes(u));
      const report = await probeEtcdHealth(access, others.length ? others : d.endpoints, { leavingId: member.id });
      guard(`remove etcd member ${memberLabel(member)}`, report, { kind: 'remove', id: member.id });
      // a dead leaving member cannot answer HashKV: compare the members that do (the guard made sure all others are healthy)
      const answering = d.members.filter((m) => {
        const h = report.members.find((x) => x.id === m.id);
        return !h || isMemberHealthy(h);
      });
      const hashes = await checkHashKV(access, answering, `remove etcd member ${memberLabel(member)}`);

      const remaining = d.members.filter((m) => m.id !== member.id);
      const remainingURLs = voterEndpoints(remaining);
      let leaderMoved = false;
      let moveNote = '';
      // The leader can change between the check and the removal: look again right before removing.
      for (let round = 0; round < 3; round++) {
        const st = await withEtcdClient(access, remainingURLs, (c) => c.maintenance.status());
        if (st.leader !== member.id) break;
        const newURLs = new Set(plan.newMasters.map((h) => h.etcd.peerURL));
        const candidates = report.members
          .filter((m) => m.id !== member.id && !m.isLearner && isMemberHealthy(m))
          .sort((a, b) => {
            const na = a.peerURLs.some((u) => newURLs.has(u)) ? 0 : 1;
            const nb = b.peerURLs.some((u) => newURLs.has(u)) ? 0 : 1;
            if (na !== nb) return na - nb;
            return Number(BigInt(b.raftIndex ?? '0') - BigInt(a.raftIndex ?? '0'));
          });
        const to = candidates[0];
        if (!to) throw new UnsafeOperationError(`refusing to remove leader ${memberLabel(member)}: no healthy voter to hand leadership to`, ['no transferee']);
        const toNew = to.peerURLs.some((u) => newURLs.has(u));
        await reconfig(`move leadership from ${member.name} to ${to.name}`, () =>
          withEtcdClient(access, member.clientURLs, (c) => c.maintenance.moveLeader({ targetID: to.id })),
        );
        await waitUntil(`leadership to move to ${to.name}`, t.leaderMoveMs, async () => {
          const s = await withEtcdClient(access, to.clientURLs, (c) => c.maintenance.status()).catch(() => undefined);
          return s && s.leader === to.id ? { done: true, value: true } : { done: false, why: `leader is ${s?.leader ?? 'unknown'}` };
        });
        leaderMoved = true;
        failpoint('etcd.remove.after-leader-move', host.name);
        moveNote = `leadership moved from ${member.name} to ${to.name}${toNew ? '' : ' (no healthy new master: an old one)'}; `;
        log(`leader moved from ${member.name} to ${to.name}`, { from: member.id, to: to.id });
      }
      if (leaderMoved) {
        // moving leadership took time (up to leaderMoveMs per round): health may have changed since the first check
        const again = await probeEtcdHealth(access, others.length ? others : d.endpoints, { leavingId: member.id });
        guard(`remove etcd member ${memberLabel(member)} (re-checked after the leader move)`, again, { kind: 'remove', id: member.id });
      }

      await reconfig(`member remove ${memberLabel(member)}`, async () => {
        try {
          await withEtcdClient(access, remainingURLs, (c) => c.cluster.memberRemove({ ID: member.id }));
        } catch (err) {
          if (!/member not found/.test(errorText(err))) throw err;
        }
      });
      failpoint('etcd.remove.after-member-remove', host.name);
      log(`member ${memberLabel(member)} removed`, { id: member.id });
      const stopped = await stopHere();
      failpoint('etcd.remove.after-stop', host.name);
      const final = await waitHealthy(access, remainingURLs, `etcd healthy after removing ${member.name}`);
      return {
        memberId: member.id,
        alreadyRemoved: false,
        leaderMoved,
        members: final.members.length,
        summary: `${deadNotes.length ? `${deadNotes.join('; ')}; ` : ''}${moveNote}${hashes.summary}; removed ${memberLabel(member)}; ${stopped}; ${final.members.length} members healthy, leader ${final.leaderId ?? '?'}; ${secs(Date.now() - t0)}`,
      };
    },

    /**
     * Rewrite a member's config so initial-cluster lists only live members.
     *
     * Restart policy (decided): etcd reads initial-cluster / initial-cluster-state
     * only when it bootstraps an empty data dir; a running member keeps its
     * membership in the data dir. So when only those keys change, the file is
     * rewritten and etcd is NOT restarted (the next restart reads a correct
     * file). Only if other keys differ from what the member runs (listen URLs,
     * data dir, ...) is that one member restarted, after checking the cluster
     * keeps quorum without it, and the cluster is awaited healthy.
     *
     * "What the member runs" is host state, not this attempt's write: the
     * runtime digest (lib/etcd-config runtimeDigest) recorded in the applied
     * stamp beside the file. A member cpmigrate never restarted has no stamp;
     * then the file as it is before the rewrite is what it runs, and that is
     * recorded first — so a worker that dies between the write and the restart
     * leaves a stamp that still differs, and the retry restarts.
     */
    async etcdRewriteConfig(plan: Plan, hostName: string): Promise<StepOutcome> {
      const host = masterOf(plan, hostName);
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const access = accessOf(plan);
      const d = await discoverMembers(access, seedsOf(plan));
      const member = memberOf(d.members, host);
      if (!member || !member.name) {
        throw new PlanMismatchError(`${host.name} has no started etcd member (peer URL ${host.etcd.peerURL}): nothing to rewrite; join it first`);
      }
      const live = d.members.filter((m) => m.name !== '' && !m.isLearner);
      const entries = clusterEntries(live, { id: member.id, name: host.etcd.name });
      const source = (await readEtcdSource(ops, plan, host, t.commandMs)) ?? (await sourceFor(ops, plan, live, host));
      const applied = await appliedState(ops, target, [plan.paths.etcdConfig]);
      if (applied.stamp === undefined) {
        // a member configured by flags has no file: it runs the carried settings the new file is derived from
        const before = (await ops.readFile(target, plan.paths.etcdConfig))?.toString('utf8');
        const runs = before ?? deriveEtcdMemberConfig(source, memberInput(plan, host, entries)).text;
        await recordApplied(ops, target, { ...applied, digest: runtimeDigest(runs) });
        failpoint('etcd.rewrite.after-baseline', host.name);
      }
      const cfg = await pushConfig(ops, plan, target, host, entries, source);
      failpoint('etcd.rewrite.after-write', host.name);
      const listed = live.map((m) => m.name).join(',');
      const now = await appliedState(ops, target, [plan.paths.etcdConfig]);
      const wants = { ...now, digest: runtimeDigest(cfg.derived.text) };
      if (isCurrent(wants)) {
        return cfg.changed
          ? {
              summary:
                `rewrote ${plan.paths.etcdConfig} on ${host.name}: initial-cluster = ${listed}; not restarted ` +
                '(etcd reads initial-cluster only when bootstrapping an empty data dir; the running member is unaffected)',
              changed: true,
              details: { changedKeys: cfg.keys, restarted: false },
            }
          : { summary: `${plan.paths.etcdConfig} on ${host.name} already lists only the live members (${listed}), and etcd runs it`, changed: false };
      }

      const rep = await probeEtcdHealth(access, d.endpoints);
      const voters = rep.members.filter((m) => !m.isLearner);
      const healthyOthers = voters.filter((m) => m.id !== member.id && isMemberHealthy(m)).length;
      const q = quorumOf(voters.length);
      if (!rep.healthy || healthyOthers < q) {
        throw new UnsafeOperationError(
          `refusing to restart ${memberLabel(member)} to apply its rewritten ${plan.paths.etcdConfig}: ` +
            `${healthyOthers} other healthy voters of ${voters.length}, quorum needs ${q}${rep.problems.length ? `; ${rep.problems.join('; ')}` : ''}`,
          rep.problems,
        );
      }
      // the stamp is written on the host in the same command as the restart (lib/applied withStamp)
      await ops.run(target, withStamp(serviceCommand(plan.etcd.service, 'restart'), wants), { timeoutMs: t.commandMs });
      failpoint('etcd.rewrite.after-restart', host.name);
      await waitHealthy(access, d.endpoints, `etcd healthy after restarting ${host.etcd.name}`);
      const keys = cfg.keys.filter((k) => !(BOOTSTRAP_ONLY_KEYS as readonly string[]).includes(k));
      return {
        summary: `rewrote ${plan.paths.etcdConfig} on ${host.name} (initial-cluster = ${listed}${keys.length ? `; changed ${keys.join(', ')}` : '; settings written by an earlier attempt'}) and restarted it; cluster healthy`,
        changed: true,
        details: { changedKeys: cfg.keys, restarted: true },
      };
    },

    /** Client URLs of the started voting members, sorted: for --etcd-servers and calico. */
    async etcdClientURLs(plan: Plan): Promise<string[]> {
      const d = await discoverMembers(accessOf(plan), seedsOf(plan));
      const urls = voterEndpoints(d.members);
      if (urls.length === 0) throw new Error('the etcd member list has no started voting member with a client URL');
      return urls;
    },
  };
  return activities;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (b) => hash.update(b))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return hash.digest('hex');
}
