/**
 * The worker's activities: one module per external system, wired to the real
 * clients (SSH for hosts, etcd3, @kubernetes/client-node). The result must
 * satisfy the contract the workflow calls (src/activities/contract.ts).
 */
import type { HostOps } from '../lib/hostops';
import { sshHostOps } from '../lib/ssh';
import { createCertActivities } from './certs';
import type { MigrationActivities } from './contract';
import { createControlPlaneActivities } from './controlplane';
import { createEtcdActivities } from './etcd';
import { createFenceActivities } from './fence';
import { createKubeActivities } from './kube';
import { createLockActivities, withLockGuard, type LockDeps } from './lock';
import { withPolicyGuard } from './policy';
import { createPreflightActivities } from './preflight';
import { createSshActivities } from './ssh';
import { createVipActivities } from './vip';

export interface ActivityDeps {
  hostOps?: () => HostOps;
  lock?: LockDeps;
}

export function createActivities(deps: ActivityDeps = {}) {
  const hostOps = deps.hostOps ?? sshHostOps;
  const kube = createKubeActivities();
  const etcd = createEtcdActivities({ hostOps });
  const { lock, ensure } = createLockActivities(deps.lock);
  const all = {
    ...lock,
    ...kube,
    ...etcd,
    ...createSshActivities({ hostOps }),
    ...createCertActivities({ hostOps }),
    ...createControlPlaneActivities({ hostOps }),
    ...createVipActivities({ hostOps }),
    ...createFenceActivities({ hostOps }),
    ...createPreflightActivities({ hostOps, kube, etcdHealth: etcd.etcdHealth }),
  } satisfies MigrationActivities; // everything the workflow calls is here, with the right signature
  // every activity checks the plan against the worker policy (src/activities/policy.ts),
  // then every mutating one checks the cluster lock (src/activities/lock.ts)
  return withPolicyGuard(withLockGuard(all, ensure));
}
