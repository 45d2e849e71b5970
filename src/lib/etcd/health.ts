/** The health probe: every member asked on its own endpoint (one client each), leader, raft-index lag, alarms. */
import type { IStatusResponse } from 'etcd3';
import type { QuorumMember } from '../quorum';
import { errorText, withEtcdClient, type EtcdAccess } from './client';
import { listMembers, memberLabel, voterEndpoints, type EtcdMember } from './members';

export interface EtcdMemberHealth {
  id: string; // decimal uint64
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
  reachable: boolean;
  raftIndex?: string;
  dbSize?: number;
  error?: string;
}

export interface EtcdHealthReport {
  healthy: boolean;
  leaderId?: string;
  members: EtcdMemberHealth[];
  alarms: string[];
  /** reasons the cluster is not healthy; empty when healthy */
  problems: string[];
}

interface MemberProbe {
  reachable: boolean;
  endpoint?: string;
  status?: IStatusResponse;
  /** member IDs this member sees (voters only) */
  seenIds?: string[];
  error?: string;
}

async function probeMember(access: EtcdAccess, m: EtcdMember): Promise<MemberProbe> {
  if (m.clientURLs.length === 0) return { reachable: false, error: 'has no client URL yet (never started)' };
  const errors: string[] = [];
  for (const url of m.clientURLs) {
    try {
      return await withEtcdClient(access, [url], async (c) => {
        const status = await c.maintenance.status();
        if (status.header.member_id !== m.id) {
          throw new Error(`endpoint ${url} answered as member ${status.header.member_id}, not ${m.id}`);
        }
        const seenIds = m.isLearner ? undefined : (await listMembers(c)).map((x) => x.id).sort();
        return { reachable: true, endpoint: url, status, seenIds };
      });
    } catch (err) {
      errors.push(`${url}: ${errorText(err)}`);
    }
  }
  return { reachable: false, error: `unreachable: ${errors.join('; ')}` };
}

export interface HealthOptions {
  /** a learner that is expected (a join in progress): not a "stray learner" problem */
  allowLearnerId?: string;
  /**
   * the member about to be removed: its own state is reported on it but is not a
   * problem of the cluster (it may be dead: an old master powered off), and it is
   * not asked for alarms
   */
  leavingId?: string;
  /** members of hosts the plan marks failed (dead): like leavingId, reported on but not a problem of the cluster */
  deadIds?: readonly string[];
}

/**
 * Probe the cluster reachable through `endpoints`: every member listed, each
 * checked on its own client URL. Never throws: problems are reported.
 * Healthy = every member started (non-empty name) and reachable, status
 * without errors, raft index within maxRaftIndexLag of the highest, exactly
 * one leader that every member agrees on, the same member list on every
 * voter, no alarm, no learner (other than `allowLearnerId`).
 */
export async function etcdHealth(access: EtcdAccess, endpoints: readonly string[], opts: HealthOptions = {}): Promise<EtcdHealthReport> {
  const problems: string[] = [];
  let members: EtcdMember[];
  let alarms: string[] = [];
  try {
    members = await withEtcdClient(access, endpoints, listMembers);
  } catch (err) {
    return { healthy: false, members: [], alarms: [], problems: [`cannot read the member list from ${endpoints.join(', ')}: ${errorText(err)}`] };
  }
  const probes = await Promise.all(members.map((m) => probeMember(access, m)));
  const excused = (id: string): boolean => id === opts.leavingId || (opts.deadIds ?? []).includes(id);
  const voterURLs = voterEndpoints(members.filter((m) => !excused(m.id)));
  try {
    const res = await withEtcdClient(access, voterURLs.length ? voterURLs : endpoints, (c) => c.maintenance.alarm({ action: 'Get' }));
    alarms = res.alarms.map((a) => `${a.alarm} on member ${a.memberID}`);
  } catch (err) {
    problems.push(`cannot read alarms: ${errorText(err)}`);
  }

  let maxIndex = 0n;
  for (const p of probes) if (p.status && BigInt(p.status.raftIndex) > maxIndex) maxIndex = BigInt(p.status.raftIndex);

  const ids = members.map((m) => m.id).sort();
  const report: EtcdMemberHealth[] = members.map((m, i) => {
    const p = probes[i] as MemberProbe;
    const errs: string[] = [];
    if (!m.name) errs.push('not started (empty name): it was added but its etcd never joined');
    if (!p.reachable && (m.name || m.clientURLs.length)) errs.push(p.error ?? 'unreachable');
    if (p.status) {
      if (p.status.errors.length) errs.push(`status errors: ${p.status.errors.join('; ')}`);
      const lag = maxIndex - BigInt(p.status.raftIndex);
      if (lag > BigInt(access.maxRaftIndexLag)) errs.push(`raft index ${p.status.raftIndex} is ${lag} behind ${maxIndex} (allowed ${access.maxRaftIndexLag})`);
    }
    if (p.seenIds && p.seenIds.join(',') !== ids.join(',')) errs.push(`sees a different member list: ${p.seenIds.join(',')} (expected ${ids.join(',')})`);
    const h: EtcdMemberHealth = {
      id: m.id,
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: m.isLearner,
      reachable: p.reachable,
    };
    if (p.status) {
      h.raftIndex = p.status.raftIndex;
      h.dbSize = Number(p.status.dbSize);
    }
    if (errs.length) h.error = errs.join('; ');
    return h;
  });

  for (const h of report) if (h.error && !excused(h.id)) problems.push(`member ${memberLabel(h)}: ${h.error}`);
  for (const h of report) {
    if (h.isLearner && h.id !== opts.allowLearnerId && !excused(h.id))
      problems.push(`stray learner ${memberLabel(h)}: an unfinished join; promote or remove it`);
  }

  const leaders = new Set<string>();
  const counted = probes.filter((_, i) => !excused(members[i]?.id ?? ''));
  for (const p of counted) if (p.status && p.status.leader !== '0') leaders.add(p.status.leader);
  const silent = counted.filter((p) => p.status && p.status.leader === '0').length;
  let leaderId: string | undefined;
  if (leaders.size === 0) problems.push('no leader');
  else if (leaders.size > 1) problems.push(`members disagree on the leader: ${[...leaders].join(', ')}`);
  else {
    leaderId = [...leaders][0] as string;
    if (!ids.includes(leaderId)) problems.push(`leader ${leaderId} is not in the member list`);
    if (silent) problems.push(`${silent} member(s) see no leader`);
  }
  if (alarms.length) problems.push(`alarms raised: ${alarms.join(', ')}`);

  const out: EtcdHealthReport = { healthy: problems.length === 0, members: report, alarms, problems };
  if (leaderId !== undefined) out.leaderId = leaderId;
  return out;
}

export function isMemberHealthy(h: EtcdMemberHealth): boolean {
  return h.reachable && !h.error && h.name !== '';
}

/** The health report as input for the quorum projection. */
export function quorumMembersOf(report: EtcdHealthReport): QuorumMember[] {
  return report.members.map((h) => ({ id: h.id, name: h.name, isLearner: h.isLearner, healthy: isMemberHealthy(h) }));
}
