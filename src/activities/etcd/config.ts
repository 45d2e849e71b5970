/**
 * A member's etcd config: derived from a live member's (only per-member keys
 * change), pushed with its mode and owner; and etcdRewriteConfig, the rewrite
 * once the old members are gone, with its restart policy.
 */
import { PlanMismatchError, UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import { appliedState, isCurrent, recordApplied, withStamp } from '../../lib/applied';
import { BOOTSTRAP_ONLY_KEYS, changedKeys, runtimeDigest, type ClusterEntry } from '../../lib/etcd-config';
import { deriveEtcdMemberConfig, type DerivedEtcdConfig, type EtcdConfigSource } from '../../lib/etcd-member-config';
import { etcdHealth as probeEtcdHealth, isMemberHealthy, memberLabel, type EtcdMember } from '../../lib/etcd';
import { pushOptionsLike } from '../../lib/file-meta';
import type { HostOps } from '../../lib/hostops';
import { quorumOf } from '../../lib/quorum';
import { serviceCommand } from '../../lib/services';
import { type SshTarget } from '../../plan/hosts';
import type { Host, Plan } from '../../plan/schema';
import { readEtcdSource, readOldEtcdSource } from '../etcd-source';
import type { StepOutcome } from '../types';
import { clusterEntries, memberOf, type EtcdContext } from './context';

export interface PushedConfig {
  changed: boolean;
  keys: string[];
  existed: boolean;
  derived: DerivedEtcdConfig;
  source: EtcdConfigSource;
}

export function memberInput(plan: Plan, host: Host, entries: ClusterEntry[]): Parameters<typeof deriveEtcdMemberConfig>[1] {
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

/** The member's config, derived from `source` (a live member's config): only per-member keys change. */
export async function pushConfig(
  ops: HostOps,
  plan: Plan,
  target: SshTarget,
  host: Host,
  entries: ClusterEntry[],
  source: EtcdConfigSource,
): Promise<PushedConfig> {
  const file = plan.paths.etcdConfig;
  const before = (await ops.readFile(target, file))?.toString('utf8');
  const derived = deriveEtcdMemberConfig(source, memberInput(plan, host, entries));
  const text = derived.text;
  if (before === text) return { changed: false, keys: [], existed: true, derived, source };
  // the source file's mode and owner (and its directory's); a member configured by flags has no file: 0600, as etcd's own files
  const pushed = await ops.pushFile(target, file, text, pushOptionsLike(source.meta, { mode: 0o600 }, { backup: true }));
  return { changed: pushed.changed, keys: changedKeys(before, text), existed: before !== undefined, derived, source };
}

/** A live member's config to start from: an old master's (in plan order), else another started member's. */
export async function sourceFor(ctx: EtcdContext, ops: HostOps, plan: Plan, members: readonly EtcdMember[], self: Host): Promise<EtcdConfigSource> {
  const isLive = (h: Host) => members.some((m) => m.name !== '' && m.peerURLs.includes(h.etcd.peerURL));
  const candidates = [...plan.oldMasters.filter(isLive), ...plan.newMasters.filter((h) => h.name !== self.name && isLive(h))];
  return readOldEtcdSource(ops, plan, candidates, ctx.t.commandMs);
}

export function configActivities(ctx: EtcdContext) {
  const { t, onHost, waitHealthy } = ctx;
  return {
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
      const { host, ops, target, access, d } = await onHost(plan, hostName);
      const member = memberOf(d.members, host);
      if (!member || !member.name) {
        throw new PlanMismatchError(`${host.name} has no started etcd member (peer URL ${host.etcd.peerURL}): nothing to rewrite; join it first`);
      }
      const live = d.members.filter((m) => m.name !== '' && !m.isLearner);
      const entries = clusterEntries(live, { id: member.id, name: host.etcd.name });
      const source = (await readEtcdSource(ops, plan, host, t.commandMs)) ?? (await sourceFor(ctx, ops, plan, live, host));
      const applied = await appliedState(ops, target, [plan.paths.etcdConfig]);
      let stamp = applied.stamp;
      if (stamp === undefined) {
        // a member configured by flags has no file: it runs the carried settings the new file is derived from
        const before = (await ops.readFile(target, plan.paths.etcdConfig))?.toString('utf8');
        stamp = runtimeDigest(before ?? deriveEtcdMemberConfig(source, memberInput(plan, host, entries)).text);
        await recordApplied(ops, target, { ...applied, digest: stamp });
        failpoint('etcd.rewrite.after-baseline', host.name);
      }
      const cfg = await pushConfig(ops, plan, target, host, entries, source);
      failpoint('etcd.rewrite.after-write', host.name);
      const listed = live.map((m) => m.name).join(',');
      // what the member runs (its stamp, read or just recorded) against what the file now asks for
      const wants = { stampPath: applied.stampPath, stamp, digest: runtimeDigest(cfg.derived.text) };
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
  };
}
