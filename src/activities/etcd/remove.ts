/**
 * etcdRemoveMember: quorum-checked removal, leadership handed to a healthy
 * new master first when the member leads; dead old members removed first.
 */
import { UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import {
  discoverMembers,
  errorText,
  etcdHealth as probeEtcdHealth,
  isMemberHealthy,
  memberLabel,
  voterEndpoints,
  withEtcdClient,
  type EtcdAccess,
  type EtcdMember,
} from '../../lib/etcd';
import { isFailed } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import { checkHashKV } from '../etcd-data';
import type { RemoveResult } from '../types';
import { memberOf, secs, seedsOf, type EtcdContext } from './context';

/** Old masters' members that do not answer (dead hosts), removed one at a time when the projection allows it. */
export async function removeDeadOldMembers(
  ctx: EtcdContext,
  plan: Plan,
  access: EtcdAccess,
  members: readonly EtcdMember[],
  targetId: string,
): Promise<string[]> {
  const { log, reconfig, guard } = ctx;
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

export function removeActivities(ctx: EtcdContext) {
  const { t, log, onHost, reconfig, waitUntil, waitHealthy, guard, stopService } = ctx;
  return {
    /**
     * Remove the host's member (by member name or peer URL): health and quorum
     * checked first; leadership moved to a healthy new master first when the
     * member leads; etcd stopped on the host afterwards (best effort); waits
     * until the cluster is healthy. Already removed = success.
     */
    async etcdRemoveMember(plan: Plan, hostName: string): Promise<RemoveResult> {
      const t0 = Date.now();
      const on = await onHost(plan, hostName);
      const { host, ops, target, access } = on;
      let d = on.d;
      const member = memberOf(d.members, host, true);
      // a failed (dead) old master is never touched: its member is removed through the others, no SSH to it
      const stopHere = (): Promise<string> =>
        isFailed(host) ? Promise.resolve(`nothing run on ${host.name} (marked failed)`) : stopService(ops, plan, target);
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
      const deadNotes = await removeDeadOldMembers(ctx, plan, access, d.members, member.id);
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
  };
}
