/**
 * checkpointEvidence: what a checkpoint's approver looks at, read from the
 * live cluster (etcd members and their health, who holds the VIP) plus what
 * the workflow already knows for the gate (inventory, parity, client fixes),
 * with the sha256 digest of its stable part (src/lib/evidence.ts says what is
 * digested and what is not). Read-only and idempotent: the workflow calls it
 * when a checkpoint starts waiting and again right before acting on the
 * approval. It never throws for an unhealthy cluster: that is evidence.
 */
import { digestedEvidence } from '../lib/evidence-digest';
import type { CheckpointEvidence, KnownEvidence } from '../lib/evidence';
import type { HostOps } from '../lib/hostops';
import type { GateId, Plan } from '../plan/schema';
import { beat } from '../lib/heartbeat';
import type { EtcdHealthReport } from './types';
import { vipHolders } from './vip-holders';

export interface EvidenceDeps {
  hostOps: () => HostOps;
  /** the etcd activities' etcdHealth: every member probed, never throws */
  etcdHealth: (plan: Plan) => Promise<EtcdHealthReport>;
}

export function createEvidenceActivities(deps: EvidenceDeps) {
  async function checkpointEvidence(plan: Plan, gate: GateId, known: KnownEvidence = {}): Promise<CheckpointEvidence> {
    beat({ evidence: gate, reading: 'etcd members and health' });
    const health = await deps.etcdHealth(plan);
    beat({ evidence: gate, reading: 'VIP holders' });
    const vip = await vipHolders(plan, deps.hostOps());
    return digestedEvidence({
      gate,
      health,
      vip: { address: plan.loadBalancer.vip, holders: vip.holders, unchecked: vip.unknown },
      known,
      at: new Date().toISOString(),
    });
  }
  return { checkpointEvidence };
}
