/**
 * etcdJoinMember (learner add -> catch up -> promote -> healthy, version and
 * quota gates before the add) and etcdAbandonJoin, its compensation.
 */
import { UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import { enableAtBoot } from '../component-state';
import { QUOTA_HEADROOM, quotaRefusal, versionRefusals, type MemberVersion } from '../../lib/etcd-gates';
import { describeDerived, quotaBytesOf, sourceSettings, type EtcdConfigSource } from '../../lib/etcd-member-config';
import {
  discoverMembers,
  errorText,
  etcdHealth as probeEtcdHealth,
  isMemberHealthy,
  memberLabel,
  toMember,
  voterEndpoints,
  withEtcdClient,
  type EtcdAccess,
  type EtcdMember,
} from '../../lib/etcd';
import { serviceCommand } from '../../lib/services';
import { shq } from '../../lib/shell';
import type { Plan } from '../../plan/schema';
import { joiningBinaryVersion } from '../etcd-binary';
import { checkHashKV, readVersions } from '../etcd-data';
import type { EtcdHealthReport, JoinResult, RemoveResult } from '../types';
import { pushConfig, sourceFor } from './config';
import { clusterEntries, memberOf, secs, seedsOf, type EtcdContext } from './context';

/** Versions (learner bug, mixes) and the new member's quota against the database size; UnsafeOperationError listing every refusal. */
export function gateBeforeAdd(what: string, versions: readonly MemberVersion[], learner: boolean, health: EtcdHealthReport, source: EtcdConfigSource): string {
  const refusals = versionRefusals(versions, { learnerJoin: learner });
  const quota = quotaBytesOf(sourceSettings(source));
  const dbs = health.members.filter((m) => m.dbSize !== undefined).map((m) => ({ label: memberLabel(m), bytes: m.dbSize as number }));
  const q = quotaRefusal(quota, dbs);
  if (q) refusals.push(q);
  if (refusals.length) throw new UnsafeOperationError(`refusing to ${what}:\n  * ${refusals.join('\n  * ')}`, refusals);
  const biggest = Math.max(0, ...dbs.map((x) => x.bytes));
  return `versions ${[...new Set(versions.map((v) => v.version))].join(', ')}; quota ${quota} >= ${QUOTA_HEADROOM} x db ${biggest}`;
}

export async function learnerSupport(access: EtcdAccess, endpoints: readonly string[]): Promise<{ supported: boolean; version: string }> {
  const st = await withEtcdClient(access, endpoints, (c) => c.maintenance.status());
  const m = /^(\d+)\.(\d+)/.exec(st.version);
  const supported = m ? Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 4) : true;
  return { supported, version: st.version };
}

export function joinActivities(ctx: EtcdContext) {
  const { t, log, onHost, reconfig, waitUntil, waitHealthy, guard, stopService } = ctx;
  return {
    /**
     * Add the host's member (learner, then promote once caught up), write its
     * config with initial-cluster-state=existing, start it, wait healthy.
     * Re-running picks up where a previous attempt stopped.
     */
    async etcdJoinMember(plan: Plan, hostName: string): Promise<JoinResult> {
      const t0 = Date.now();
      const { host, ops, target, access, d } = await onHost(plan, hostName);
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
        source = await sourceFor(ctx, ops, plan, d.members, host);
        // the binary the new member will run joins the version gate before the add (a 3.4 leader panics when a 3.6 member connects)
        const joining = await joiningBinaryVersion(ops, plan, host, t.commandMs);
        const versions = [
          ...(await readVersions(access, d.members)),
          ...('version' in joining ? [{ label: `${host.etcd.name} (to join; ${joining.how})`, version: joining.version }] : []),
        ];
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

      source ??= await sourceFor(ctx, ops, plan, initial, host);
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
      const { host, ops, target, access, d } = await onHost(plan, hostName);
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
  };
}
