/**
 * The worker's activities: one module per external system, wired to the real
 * clients (SSH for hosts, etcd3, @kubernetes/client-node). The result must
 * satisfy the contract the workflow calls (src/activities/contract.ts).
 */
import type { HostOps } from '../lib/hostops';
import { expandPlanPaths, isPlan } from '../lib/paths';
import { sshHostOps } from '../lib/ssh';
import { createCertActivities } from './certs';
import { createClientFixActivities } from './client-fixes';
import type { MigrationActivities } from './contract';
import { createControlPlaneActivities } from './controlplane';
import { createEtcdActivities } from './etcd';
import { createEvidenceActivities } from './evidence';
import { createFenceActivities } from './fence';
import { createInventoryActivities } from './inventory';
import { createKubeActivities } from './kube';
import { createKubeClientActivities } from './kube-clients';
import { createLockActivities, withLockGuard, type LockDeps } from './lock';
import { withPolicyGuard } from './policy';
import { createPreflightActivities } from './preflight';
import { createSshActivities } from './ssh';
import { contractActivities } from './registered';
import { createVipActivities } from './vip';

export interface ActivityDeps {
  hostOps?: () => HostOps;
  lock?: LockDeps;
}

/**
 * Every activity whose first argument is the plan gets it with `~/` expanded
 * in its worker-side paths (src/lib/paths.ts): the one place that does it.
 */
export function withExpandedPaths<T extends object>(acts: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    out[name] =
      typeof fn === 'function'
        ? (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(...(isPlan(args[0]) ? [expandPlanPaths(args[0]), ...args.slice(1)] : args))
        : fn;
  }
  return out as T;
}

/** What the worker registers: exactly the contract (src/activities/registered.ts), paths expanded, policy- and lock-guarded. */
export function createActivities(deps: ActivityDeps = {}): MigrationActivities {
  return withExpandedPaths(contractActivities(createRawActivities(deps)));
}

function createRawActivities(deps: ActivityDeps) {
  const hostOps = deps.hostOps ?? sshHostOps;
  const kube = createKubeActivities();
  const etcd = createEtcdActivities({ hostOps });
  const kubeClients = createKubeClientActivities();
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
    ...createInventoryActivities({ hostOps }),
    ...createEvidenceActivities({ hostOps, etcdHealth: etcd.etcdHealth }),
    ...createClientFixActivities({ hostOps, kubeClients }),
    ...createPreflightActivities({ hostOps, kube: { ...kube, ...kubeClients }, etcdHealth: etcd.etcdHealth }),
  } satisfies MigrationActivities; // everything the workflow calls is here, with the right signature
  // every activity checks the plan against the worker policy (src/activities/policy.ts),
  // then every mutating one checks the cluster lock (src/activities/lock.ts)
  return withPolicyGuard(withLockGuard(all, ensure));
}
