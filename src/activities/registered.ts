/**
 * The activity names the worker registers: exactly the contract the workflows
 * call (src/activities/contract.ts), nothing else — no helper (a shell on a host,
 * a cordon outside the drain) is reachable from the task queue. The type checks
 * below fail the build when the list and the contract differ.
 */
import type { MigrationActivities } from './contract';

export const CONTRACT_ACTIVITIES = [
  'applyClientFix',
  'checkpointEvidence',
  'clusterLockAcquire',
  'clusterLockBreak',
  'clusterLockKeepAlive',
  'clusterLockRelease',
  'configureApiserver',
  'configureApiserverLb',
  'configureControllerManagerScheduler',
  'configureKeepalived',
  'copyPki',
  'drainNode',
  'etcdAbandonJoin',
  'etcdClientURLs',
  'etcdHealth',
  'etcdJoinMember',
  'etcdRemoveMember',
  'etcdRewriteConfig',
  'etcdSnapshot',
  'fenceOldMaster',
  'inventoryOldMasterRefs',
  'issueEtcdMemberCerts',
  'labelNode',
  'patchCalicoEtcdEndpoints',
  'preflight',
  'reissueApiserverCert',
  'restartClient',
  'revertClientFix',
  'rolloutRestart',
  'setExporterEndpoints',
  'startComponent',
  'stopComponent',
  'taintNode',
  'uncordonNode',
  'verifyVip',
  'waitComponentHealthy',
  'waitNodeReady',
] as const satisfies ReadonlyArray<keyof MigrationActivities>;

type Listed = (typeof CONTRACT_ACTIVITIES)[number];
/** Every contract activity is listed (a missing one makes this `never`, and the assignment fails). */
const everyContractActivityListed: Exclude<keyof MigrationActivities, Listed> extends never ? true : never = true;
void everyContractActivityListed;

/** The contract's activities out of everything the modules build (the rest are internal helpers). */
export function contractActivities<T extends MigrationActivities>(all: T): MigrationActivities {
  const out: Record<string, unknown> = {};
  for (const name of CONTRACT_ACTIVITIES) out[name] = all[name];
  return out as unknown as MigrationActivities;
}
