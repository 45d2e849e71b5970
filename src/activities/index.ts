/**
 * The worker's activities: one module per external system, wired to the real
 * clients (SSH for hosts, etcd3, @kubernetes/client-node). The result must
 * satisfy the contract the workflow calls (src/activities/contract.ts).
 */
import type { HostOps } from '../lib/hostops';
import { sshHostOps } from '../lib/ssh';
import { createCertActivities } from './certs';
import { createClientFixActivities } from './client-fixes';
import type { MigrationActivities } from './contract';
import { createControlPlaneActivities } from './controlplane';
import { createEtcdActivities } from './etcd';
import { createFenceActivities } from './fence';
import { createKubeActivities } from './kube';
import { createKubeClientActivities } from './kube-clients';
import { createPreflightActivities } from './preflight';
import { createSshActivities } from './ssh';
import { createVipActivities } from './vip';

export interface ActivityDeps {
  hostOps?: () => HostOps;
}

export function createActivities(deps: ActivityDeps = {}) {
  const hostOps = deps.hostOps ?? sshHostOps;
  const kube = createKubeActivities();
  const etcd = createEtcdActivities({ hostOps });
  const kubeClients = createKubeClientActivities();
  return {
    ...kube,
    ...etcd,
    ...createSshActivities({ hostOps }),
    ...createCertActivities({ hostOps }),
    ...createControlPlaneActivities({ hostOps }),
    ...createVipActivities({ hostOps }),
    ...createFenceActivities({ hostOps }),
    ...createClientFixActivities({ hostOps, kubeClients }),
    ...createPreflightActivities({ hostOps, kube: { ...kube, ...kubeClients }, etcdHealth: etcd.etcdHealth }),
  } satisfies MigrationActivities; // everything the workflow calls is here, with the right signature
}
