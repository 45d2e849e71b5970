/**
 * `cpmigrate rehearse --from-live`: the old masters' etcd tuning, read (only
 * read) over SSH with the plan's keys, to build the lab's old members with the
 * same settings. Only settings that mean the same on the lab's plain-http,
 * loopback-network members are reproduced; every other one is named.
 */
import { stringify } from 'yaml';
import { readOldEtcdSource } from '../activities/etcd-source';
import type { HostOps } from '../lib/hostops';
import { sourceSettings } from '../lib/etcd-member-config';
import { isFailed } from '../plan/hosts';
import type { Plan } from '../plan/schema';

/** Settings the lab reproduces as they are: quotas, raft timing, snapshots, compaction, request limits, pre-vote. */
const REHEARSABLE = new Set([
  'quota-backend-bytes',
  'heartbeat-interval',
  'election-timeout',
  'snapshot-count',
  'auto-compaction-mode',
  'auto-compaction-retention',
  'max-request-bytes',
  'max-txn-ops',
  'max-snapshots',
  'max-wals',
  'pre-vote',
  'strict-reconfig-check',
  'grpc-keepalive-min-time',
  'grpc-keepalive-interval',
  'grpc-keepalive-timeout',
  'backend-batch-interval',
  'backend-batch-limit',
]);

/** Per-member or environment settings: the lab sets its own. */
const LAB_OWN =
  /^(name|data-dir|wal-dir|listen-|advertise-|initial-|client-transport-security|peer-transport-security|cert-file|key-file|trusted-ca-file|peer-|client-cert-auth|auto-tls|self-signed-cert-validity|cipher-suites|tls-|listen-metrics-urls|log-|logger|enable-v2|discovery)/;

export interface LiveTuning {
  /** `key: value` lines for the lab's old members' etcd.conf.yml */
  tuning: string[];
  from: string;
  /** settings of the live member the lab does not reproduce, with why */
  notReproduced: string[];
}

export async function readLiveTuning(ops: HostOps, plan: Plan): Promise<LiveTuning> {
  const src = await readOldEtcdSource(
    ops,
    plan,
    plan.oldMasters.filter((h) => !isFailed(h)),
    30_000,
  );
  const settings = sourceSettings(src);
  const tuning: string[] = [];
  const notReproduced: string[] = [];
  for (const [k, v] of Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))) {
    if (REHEARSABLE.has(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) tuning.push(stringify({ [k]: v }).trim());
    else if (!LAB_OWN.test(k)) notReproduced.push(`${k} (not among the settings the lab reproduces)`);
  }
  return { tuning, from: src.origin, notReproduced };
}
