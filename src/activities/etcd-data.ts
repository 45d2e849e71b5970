/**
 * Reading what the etcd data gates judge (src/lib/etcd-gates.ts): every
 * member's server version and database size, and HashKV of every member at
 * one common revision. Read-only; the HashKV check throws
 * UnsafeOperationError (non-retryable, hashes shown) when members disagree.
 */
import type { Etcd3, IHashKVResponse } from 'etcd3';
import { UnsafeOperationError } from '../errors';
import { formatHashes, hashesAgree, type HashRow, type MemberVersion } from '../lib/etcd-gates';
import { memberLabel, withEtcdClient, type EtcdAccess, type EtcdMember } from '../lib/etcd';
import { sleep } from '../lib/sleep';

/** Server version of each member that has a client URL (one client per member: status answers for its endpoint). */
export async function readVersions(access: EtcdAccess, members: readonly EtcdMember[]): Promise<MemberVersion[]> {
  return Promise.all(
    members
      .filter((m) => m.clientURLs.length > 0)
      .map(async (m) => {
        const version = await withEtcdClient(access, m.clientURLs, (c) => c.maintenance.status())
          .then((s) => s.version)
          .catch((e: unknown) => `unreadable: ${(e as Error).message.split('\n')[0] ?? ''}`);
        return { label: memberLabel(m), version };
      }),
  );
}

export interface HashCheck {
  revision: string;
  rows: HashRow[];
  summary: string;
}

interface Callable {
  exec(service: string, method: string, payload: unknown): Promise<IHashKVResponse>;
}

/**
 * Maintenance.HashKV. etcd3 1.1.2's `maintenance.hashKV` calls the method
 * "hashKV", but @grpc/proto-loader names it "hashKv" (or "HashKV"): call it by
 * its proto name through the same connection pool.
 */
function hashKV(c: Etcd3, revision: string): Promise<IHashKVResponse> {
  return (c.maintenance as unknown as { client: Callable }).client.exec('Maintenance', 'HashKV', { revision });
}

/**
 * HashKV of every started member at one revision (the lowest current revision
 * among them, so every member has it). Compact revisions that differ make the
 * hashes incomparable: read again (a compaction is still propagating), then
 * give up with a retryable error. Hashes that differ: UnsafeOperationError.
 */
export async function checkHashKV(access: EtcdAccess, members: readonly EtcdMember[], what: string, attempts = 5): Promise<HashCheck> {
  const started = members.filter((m) => m.name !== '' && m.clientURLs.length > 0);
  let last: HashRow[] = [];
  for (let i = 0; i < attempts; i++) {
    const revs = await Promise.all(
      started.map((m) => withEtcdClient(access, m.clientURLs, (c) => c.maintenance.status()).then((s) => BigInt(s.header.revision))),
    );
    const revision = revs.reduce((a, b) => (b < a ? b : a)).toString();
    last = await Promise.all(
      started.map(async (m) => {
        const r = await withEtcdClient(access, m.clientURLs, (c) => hashKV(c, revision));
        return { label: memberLabel(m), revision, compactRevision: String(r.compact_revision), hash: String(r.hash) };
      }),
    );
    const agree = hashesAgree(last);
    if (agree === true) {
      return { revision, rows: last, summary: `HashKV agrees on ${last.length} members at revision ${revision} (hash ${last[0]?.hash ?? '?'})` };
    }
    if (agree === false) {
      throw new UnsafeOperationError(
        `refusing to ${what}: the members' key-value stores differ (HashKV at revision ${revision}): ${formatHashes(last)}. ` +
          'A member may be corrupt: find it (etcdctl endpoint hashkv --cluster), replace it from a healthy member or the snapshot, then retry',
        last.map((r) => `${r.label}: ${r.hash}`),
      );
    }
    await sleep(1_000);
  }
  throw new Error(`cannot compare HashKV before ${what}: the members report different compact revisions (${formatHashes(last)}); retrying`);
}
