/**
 * etcd client plumbing on top of etcd3: a client factory from the plan, the
 * member list, a health probe that talks to every member on its own
 * endpoint, and the retry loop for membership changes.
 *
 * Facts this file is built on (etcd 3.4, see NOTES.md):
 *  - member IDs are uint64: kept as decimal strings (etcd3 loads longs as String);
 *  - `status()` answers from whichever host the pool picks, so per-member
 *    health needs one client per endpoint;
 *  - learners answer `status` but refuse member list and alarms
 *    ("rpc not supported for learner");
 *  - with strict-reconfig-check a change fails with "unhealthy cluster" while
 *    any voter connected less than ~5 s ago; promote fails with "... in sync
 *    with leader" until the learner has caught up: both are retried here;
 *  - etcd3's default circuit breaker would then block every call for 5 s, so
 *    the client gets its own fault handling: no breaker, and only transport
 *    errors are retried on the next endpoint.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConstantBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IMember, type IStatusResponse } from 'etcd3';
import type { Plan } from '../plan/schema';
import type { QuorumMember } from './quorum';
import { sleep } from './sleep';
import { waitTimer } from './waits';

/** @deprecated import sleep from lib/sleep (kept while activities/etcd is being split) */
export { sleep };

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

export interface EtcdAccess {
  /** client TLS material, paths on the worker; read each time a client is made */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** deadline of every unary call, and the dial timeout */
  callTimeoutMs: number;
  maxRaftIndexLag: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

export function etcdAccess(plan: Plan, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS): EtcdAccess {
  return { tls: plan.etcd.tls, callTimeoutMs, maxRaftIndexLag: plan.etcd.maxRaftIndexLag };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const RECONFIG_RETRYABLE = [
  /unhealthy cluster/,
  /in sync with leader/,
  /not enough started members/,
  /leader changed/,
  /no leader/,
  /request timed out/,
  /too many requests/,
  /timed out waiting for read index/,
];

/** A transport-level failure worth trying on the next endpoint (not a server verdict we retry ourselves). */
function isTransportError(err: Error): boolean {
  return isRecoverableError(err) && !RECONFIG_RETRYABLE.slice(0, 3).some((re) => re.test(err.message));
}

/**
 * A client over `endpoints` (client URLs). No circuit breaker; a transport
 * error is retried once per other endpoint; every unary call has a deadline.
 */
export function createEtcdClient(access: EtcdAccess, endpoints: readonly string[]): Etcd3 {
  if (endpoints.length === 0) throw new Error('no etcd endpoints to connect to');
  const tls = access.tls;
  return new Etcd3({
    hosts: [...endpoints],
    credentials: tls
      ? { rootCertificate: readFileSync(tls.caFile), certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile) }
      : undefined,
    dialTimeout: access.callTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + access.callTimeoutMs }),
    grpcOptions: {
      // own subchannels: a reconnect backoff from an earlier probe of a dead
      // endpoint must not delay seeing it come up
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
    faultHandling: {
      host: () => noop,
      global:
        endpoints.length > 1
          ? retry(handleWhen(isTransportError), { maxAttempts: endpoints.length - 1, backoff: new ConstantBackoff(50) })
          : noop,
    },
  });
}

/** Run `fn` with a client and always close it. */
export async function withEtcdClient<T>(access: EtcdAccess, endpoints: readonly string[], fn: (c: Etcd3) => Promise<T>): Promise<T> {
  const client = createEtcdClient(access, endpoints);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export interface EtcdMember {
  /** decimal uint64 */
  id: string;
  /** empty until the member has started and published its name */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function toMember(m: IMember): EtcdMember {
  return {
    id: String(m.ID),
    name: m.name ?? '',
    peerURLs: [...(m.peerURLs ?? [])],
    clientURLs: [...(m.clientURLs ?? [])],
    isLearner: Boolean(m.isLearner),
  };
}

export function memberLabel(m: Pick<EtcdMember, 'id' | 'name' | 'peerURLs'>): string {
  return m.name ? `${m.name} (${m.id})` : `${m.id} (not started, ${m.peerURLs.join(',')})`;
}

export async function listMembers(client: Etcd3): Promise<EtcdMember[]> {
  const res = await client.cluster.memberList({});
  return res.members.map(toMember);
}

/** Client URLs of started voters: where reads and membership changes go. */
export function voterEndpoints(members: readonly EtcdMember[]): string[] {
  return [...new Set(members.filter((m) => !m.isLearner && m.name !== '').flatMap((m) => m.clientURLs))].sort();
}

/**
 * The live member list, asked of every seed endpoint at once; the first
 * voter that answers wins. Throws when none answers.
 */
export async function discoverMembers(access: EtcdAccess, seeds: readonly string[]): Promise<{ members: EtcdMember[]; answeredBy: string; endpoints: string[] }> {
  const unique = [...new Set(seeds)];
  if (unique.length === 0) throw new Error('no etcd endpoints in the plan');
  const clients = unique.map((u) => ({ url: u, client: createEtcdClient(access, [u]) }));
  try {
    const first = await Promise.any(
      clients.map(async ({ url, client }) => ({ url, members: await listMembers(client) })),
    ).catch((e: unknown) => {
      const errs = e instanceof AggregateError ? e.errors : [e];
      throw new Error(`no etcd member answered the member list (tried ${unique.join(', ')}): ${[...new Set(errs.map(errorText))].join('; ')}`);
    });
    const endpoints = voterEndpoints(first.members);
    return { members: first.members, answeredBy: first.url, endpoints: endpoints.length ? endpoints : [first.url] };
  } finally {
    for (const c of clients) c.client.close();
  }
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
    if (h.isLearner && h.id !== opts.allowLearnerId && !excused(h.id)) problems.push(`stray learner ${memberLabel(h)}: an unfinished join; promote or remove it`);
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

export function isRetryableReconfigError(err: unknown): boolean {
  const msg = errorText(err);
  if (RECONFIG_RETRYABLE.some((re) => re.test(msg))) return true;
  // connection trouble (endpoint restarting, leader election): try again
  return err instanceof Error && isRecoverableError(err) && !/not supported for learner/.test(msg);
}

export interface RetryOptions {
  /** give up (throw the last error) after this long */
  deadlineMs: number;
  /** default setTimeout; activities pass one that also stops on cancellation */
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, err: unknown, waitMs: number) => void;
  /** default isRetryableReconfigError */
  retryable?: (err: unknown) => boolean;
}


/**
 * Retry a membership change (add / promote / remove / move-leader) while the
 * server says "not now": backoff 250 ms x1.6 up to 2 s, until the deadline.
 */
export async function retryReconfig<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const nap = opts.sleep ?? sleep;
  const retryable = opts.retryable ?? isRetryableReconfigError;
  let wait = 250;
  const timer = waitTimer(`etcd reconfiguration: ${what}`);
  for (let attempt = 1; ; attempt++) {
    timer.check();
    try {
      const r = await fn();
      timer.done();
      return r;
    } catch (err) {
      const elapsed = Date.now() - started;
      timer.notYet();
      if (!retryable(err) || elapsed + wait > opts.deadlineMs) timer.done(false);
      if (!retryable(err)) throw err;
      if (elapsed + wait > opts.deadlineMs) {
        const e = new Error(`${what}: still refused after ${attempt} attempts in ${(elapsed / 1000).toFixed(1)}s: ${errorText(err)}`);
        (e as Error & { cause?: unknown }).cause = err;
        throw e;
      }
      opts.onRetry?.(attempt, err, wait);
      await nap(wait);
      wait = Math.min(2_000, Math.round(wait * 1.6));
    }
  }
}

/**
 * Stream a snapshot from one member. `onChunk` gets every piece in order.
 * The last 32 bytes etcd sends are the sha256 of everything before them
 * (what `etcdctl snapshot restore` checks): verified here.
 */
export async function streamSnapshot(access: EtcdAccess, endpoint: string, timeoutMs: number, onChunk: (b: Buffer) => void): Promise<{ bytes: number }> {
  return withEtcdClient(access, [endpoint], async (c) => {
    const stream = await c.maintenance.snapshot({ deadline: Date.now() + timeoutMs });
    const hash = createHash('sha256');
    let held = Buffer.alloc(0); // the last 32 bytes seen so far are not yet hashed
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (d) => {
        const blob = Buffer.from(d.blob);
        bytes += blob.length;
        onChunk(blob);
        const all = Buffer.concat([held, blob]);
        const cut = Math.max(0, all.length - 32);
        hash.update(all.subarray(0, cut));
        held = Buffer.from(all.subarray(cut));
      });
      stream.on('end', () => resolve());
      stream.on('error', (err) => reject(err));
    });
    if (bytes < 32 || !hash.digest().equals(held)) throw new Error(`snapshot from ${endpoint} is corrupt: its trailing sha256 does not match (${bytes} bytes)`);
    return { bytes };
  });
}
