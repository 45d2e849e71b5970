/**
 * The activities the migration workflow calls, by name and signature. The
 * workflow imports this type only; src/activities/index.ts builds the real
 * implementation and must satisfy it; test doubles implement it too.
 */
import type { CheckpointEvidence, KnownEvidence } from '../lib/evidence';
import type { ClientFix } from '../plan/client-fix';
import type { GateId, Plan } from '../plan/schema';
import type { RestartOutcome } from './client-fixes';
import type { Inventory } from './inventory';
import type { ComponentName, EtcdHealthReport, JoinResult, LockBreakResult, PreflightReport, RemoveResult, SnapshotResult, StepOutcome } from './types';

export interface VipReport {
  /** hosts that hold the VIP right now (exactly one when healthy) */
  holders: string[];
  readyzThroughVip: boolean;
  summary: string;
}

export interface MigrationActivities {
  // the cluster lock (/cpmigrate/lock/<cluster> in the cluster's etcd); the holder is the calling workflow
  clusterLockAcquire(plan: Plan): Promise<StepOutcome>;
  /** runs until cancelled, heartbeating, refreshing the lock's lease */
  clusterLockKeepAlive(plan: Plan): Promise<StepOutcome>;
  clusterLockRelease(plan: Plan): Promise<StepOutcome>;
  /** only when the holder workflow no longer runs; recorded */
  clusterLockBreak(plan: Plan, req: { by: string; reason: string }): Promise<LockBreakResult>;

  // preflight (read-only)
  /** 'resume': accept a cluster part-way through an earlier run of this same plan */
  preflight(plan: Plan, mode?: 'fresh' | 'resume'): Promise<PreflightReport>;

  // kube
  drainNode(plan: Plan, node: string): Promise<StepOutcome>;
  labelNode(plan: Plan, node: string, changes: string[]): Promise<StepOutcome>;
  taintNode(plan: Plan, node: string, changes: string[]): Promise<StepOutcome>;
  uncordonNode(plan: Plan, node: string): Promise<StepOutcome>;
  patchCalicoEtcdEndpoints(plan: Plan, endpoints: string[]): Promise<StepOutcome>;
  rolloutRestart(plan: Plan, kind: 'DaemonSet' | 'Deployment', name: string, token: string): Promise<StepOutcome>;
  setExporterEndpoints(plan: Plan, addresses: string[]): Promise<StepOutcome>;

  // etcd
  etcdHealth(plan: Plan): Promise<EtcdHealthReport>;
  etcdSnapshot(plan: Plan): Promise<SnapshotResult>;
  etcdJoinMember(plan: Plan, host: string): Promise<JoinResult>;
  etcdAbandonJoin(plan: Plan, host: string): Promise<RemoveResult>;
  etcdRemoveMember(plan: Plan, host: string): Promise<RemoveResult>;
  etcdRewriteConfig(plan: Plan, host: string): Promise<StepOutcome>;
  etcdClientURLs(plan: Plan): Promise<string[]>;

  // certs
  copyPki(plan: Plan, fromHost: string, toHost: string): Promise<StepOutcome>;
  reissueApiserverCert(plan: Plan, host: string): Promise<StepOutcome>;
  /** https etcd only: the new member's own server/peer certificates, signed by the etcd CA */
  issueEtcdMemberCerts(plan: Plan, host: string): Promise<StepOutcome>;

  // control-plane components on a host (over SSH)
  configureApiserver(plan: Plan, host: string, etcdServers: string[]): Promise<StepOutcome>;
  configureApiserverLb(plan: Plan, host: string): Promise<StepOutcome>;
  configureControllerManagerScheduler(plan: Plan, host: string): Promise<StepOutcome>;
  startComponent(plan: Plan, host: string, component: ComponentName): Promise<StepOutcome>;
  stopComponent(plan: Plan, host: string, component: ComponentName): Promise<StepOutcome>;
  /** waits (heartbeating) until the component on that host is healthy */
  waitComponentHealthy(plan: Plan, host: string, component: ComponentName): Promise<StepOutcome>;

  /** read-only: everything that still names an old master (before the decommission checkpoint) */
  inventoryOldMasterRefs(plan: Plan): Promise<Inventory>;
  /** read-only: a checkpoint's evidence (etcd members and health, VIP holders, plus what the workflow knows) and its digest */
  checkpointEvidence(plan: Plan, gate: GateId, known?: KnownEvidence): Promise<CheckpointEvidence>;

  /** decommission: disable an old master's components at boot, move its keepalived config and etcd data dir aside */
  fenceOldMaster(plan: Plan, host: string): Promise<StepOutcome>;
  // client fixes: only in the client-fixes step, after its checkpoint is approved (src/activities/client-fixes.ts)
  applyClientFix(plan: Plan, fix: ClientFix): Promise<StepOutcome>;
  restartClient(plan: Plan, fix: ClientFix, token: string): Promise<RestartOutcome>;
  waitNodeReady(plan: Plan, node: string, heartbeatBefore?: string): Promise<StepOutcome>;
  revertClientFix(plan: Plan, fix: ClientFix, token: string): Promise<RestartOutcome>;

  // vip
  configureKeepalived(plan: Plan, host: string): Promise<StepOutcome>;
  verifyVip(plan: Plan, expectSide: 'old' | 'new'): Promise<VipReport>;
}
