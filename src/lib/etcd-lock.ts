/**
 * One migration per cluster, enforced by the cluster: a lease-held key
 * `/cpmigrate/lock/<cluster>` in the cluster's own etcd, holding the workflow
 * id and run id of the migration that owns it. Every change is a transaction
 * on the key's value, so two workers can never both believe they hold it.
 *
 *  - take:    create the key on a fresh lease, or find it already ours
 *             (the same run retrying); anyone else's is LockHeldError.
 *  - ensure:  before a mutating activity: ours → refresh its lease;
 *             absent (the lease lapsed while no worker ran) → take it again;
 *             anyone else's → LockHeldError.
 *  - renew:   the keeper: refresh the lease of our key, never create it.
 *  - release: delete the key if it is ours, revoke its lease.
 *  - break:   delete a named holder's key (compare-and-delete), and write an
 *             audit record under /cpmigrate/lock-breaks/<cluster>/.
 */
import type { Etcd3 } from 'etcd3';
import { LockHeldError } from '../errors';
import { sleep } from './sleep';

export interface LockHolder {
  workflowId: string;
  runId: string;
}

export interface LockValue extends LockHolder {
  cluster: string;
  /** ISO time the lock was (last) taken */
  takenAt: string;
}

export interface LockState {
  key: string;
  holder?: LockValue;
  /** decimal lease id of the key */
  lease?: string;
  /** seconds left on the lease when read */
  ttlLeft?: number;
}

export const lockKey = (cluster: string): string => `/cpmigrate/lock/${cluster}`;
export const breakRecordPrefix = (cluster: string): string => `/cpmigrate/lock-breaks/${cluster}/`;

export const sameHolder = (a: LockHolder | undefined, b: LockHolder): boolean => a?.workflowId === b.workflowId && a.runId === b.runId;

export function describeHolder(h: LockValue): string {
  return `workflow ${h.workflowId} (run ${h.runId}, since ${h.takenAt})`;
}

function parse(raw: string | null | undefined): LockValue | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<LockValue>;
    return typeof v.workflowId === 'string' && typeof v.runId === 'string'
      ? { workflowId: v.workflowId, runId: v.runId, cluster: String(v.cluster ?? ''), takenAt: String(v.takenAt ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

/** etcd calls that a learner (or a member still starting) refuses: try again, the pool picks another endpoint. */
async function tolerant<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 4 || !/learner|not started|no leader|Unavailable|ECONNREFUSED/i.test((err as Error).message)) throw err;
      await sleep(200 * (i + 1));
    }
  }
}

export async function readLock(client: Etcd3, cluster: string): Promise<LockState> {
  const key = lockKey(cluster);
  const res = await tolerant(() => client.kv.range({ key: Buffer.from(key) }));
  const kv = res.kvs[0];
  if (!kv) return { key };
  const lease = String(kv.lease ?? '0');
  let ttlLeft: number | undefined;
  if (lease !== '0') ttlLeft = Number((await tolerant(() => client.leaseClient.leaseTimeToLive({ ID: lease }))).TTL);
  return { key, holder: parse(kv.value.toString('utf8')), lease: lease === '0' ? undefined : lease, ttlLeft };
}

async function grant(client: Etcd3, ttlSeconds: number): Promise<string> {
  return String((await tolerant(() => client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }))).ID);
}

async function revoke(client: Etcd3, lease: string | undefined): Promise<void> {
  if (!lease || lease === '0') return;
  await client.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined); // already expired or revoked
}

/** Refresh a lease; false when it has expired (etcd answers TTL 0 for an unknown lease). */
async function keepAlive(client: Etcd3, lease: string, timeoutMs = 5_000): Promise<boolean> {
  const stream = await client.leaseClient.leaseKeepAlive();
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = new Promise<{ TTL: string | number }>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      timer = setTimeout(() => reject(new Error(`etcd lease keep-alive of ${lease} unanswered after ${timeoutMs} ms`)), timeoutMs);
    });
    stream.write({ ID: lease });
    return Number((await answer).TTL) > 0;
  } finally {
    clearTimeout(timer);
    stream.end();
  }
}

export interface TakeResult {
  /** 'taken': created now; 'already-ours': this run held it */
  how: 'taken' | 'already-ours';
  lease: string;
}

/** Create the key for `holder`, or find it already ours; LockHeldError naming anyone else. */
export async function takeLock(client: Etcd3, cluster: string, holder: LockHolder, ttlSeconds: number, now = new Date()): Promise<TakeResult> {
  const key = lockKey(cluster);
  const lease = await grant(client, ttlSeconds);
  const value: LockValue = { ...holder, cluster, takenAt: now.toISOString() };
  const res = await tolerant(() =>
    client.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), lease } }],
      failure: [{ request_range: { key: Buffer.from(key) } }],
    }),
  );
  if (res.succeeded) return { how: 'taken', lease };
  await revoke(client, lease);
  const kv = res.responses[0]?.response_range?.kvs[0];
  const current = parse(kv?.value.toString('utf8'));
  if (current && sameHolder(current, holder)) {
    const existing = String(kv?.lease ?? '0');
    if (existing !== '0' && (await keepAlive(client, existing))) return { how: 'already-ours', lease: existing };
    // ours but its lease is gone: the key vanishes with it any moment; take it again
    await sleep(100);
    return takeLock(client, cluster, holder, ttlSeconds, now);
  }
  if (!current) throw new LockHeldError(cluster, key, `an unreadable value (${kv?.value.toString('utf8').slice(0, 80) ?? '?'})`);
  throw new LockHeldError(cluster, key, describeHolder(current), current);
}

export interface EnsureResult {
  how: 'renewed' | 'retaken';
  lease: string;
}

/** Before a change: the lock must be ours (renewed) or free (taken again); anyone else's is LockHeldError. */
export async function ensureLock(client: Etcd3, cluster: string, holder: LockHolder, ttlSeconds: number): Promise<EnsureResult> {
  const st = await readLock(client, cluster);
  if (st.holder && sameHolder(st.holder, holder) && st.lease && (await keepAlive(client, st.lease))) return { how: 'renewed', lease: st.lease };
  if (st.holder && !sameHolder(st.holder, holder)) throw new LockHeldError(cluster, st.key, describeHolder(st.holder), st.holder);
  const t = await takeLock(client, cluster, holder, ttlSeconds);
  return { how: t.how === 'taken' ? 'retaken' : 'renewed', lease: t.lease };
}

/** The keeper's tick: refresh our lease; never creates the key. */
export async function renewLock(client: Etcd3, cluster: string, holder: LockHolder): Promise<'renewed' | 'absent'> {
  const st = await readLock(client, cluster);
  if (!st.holder) return 'absent';
  if (!sameHolder(st.holder, holder)) throw new LockHeldError(cluster, st.key, describeHolder(st.holder), st.holder);
  return st.lease && (await keepAlive(client, st.lease)) ? 'renewed' : 'absent';
}

/** Delete the key if it is ours. 'not-ours' leaves someone else's lock alone. */
export async function releaseLock(client: Etcd3, cluster: string, holder: LockHolder): Promise<'released' | 'absent' | 'not-ours'> {
  const st = await readLock(client, cluster);
  if (!st.holder) return 'absent';
  if (!sameHolder(st.holder, holder)) return 'not-ours';
  const done = await compareAndDelete(client, st);
  if (done) await revoke(client, st.lease);
  return done ? 'released' : 'not-ours';
}

async function compareAndDelete(client: Etcd3, st: LockState, also: Array<{ key: string; value: string }> = []): Promise<boolean> {
  const key = Buffer.from(st.key);
  const current = await tolerant(() => client.kv.range({ key }));
  const kv = current.kvs[0];
  if (!kv || !st.holder || !sameHolder(parse(kv.value.toString('utf8')), st.holder)) return false;
  const res = await tolerant(() =>
    client.kv.txn({
      compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }],
      success: [{ request_delete_range: { key } }, ...also.map((a) => ({ request_put: { key: Buffer.from(a.key), value: Buffer.from(a.value) } }))],
      failure: [],
    }),
  );
  return res.succeeded;
}

export interface BreakRecord {
  holder: LockValue;
  by: string;
  reason: string;
  at: string;
  /** the workflow that broke it */
  breaker?: LockHolder;
}

/** Delete `expected`'s lock and write the audit record, in one transaction; false when the holder changed meanwhile. */
export async function breakLock(client: Etcd3, st: LockState, record: BreakRecord): Promise<{ broken: boolean; recordKey: string }> {
  const cluster = record.holder.cluster || st.key.slice(lockKey('').length);
  const recordKey = `${breakRecordPrefix(cluster)}${record.at}`;
  const broken = await compareAndDelete(client, st, [{ key: recordKey, value: JSON.stringify(record) }]);
  if (broken) await revoke(client, st.lease);
  return { broken, recordKey };
}
