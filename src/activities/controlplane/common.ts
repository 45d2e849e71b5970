/** What the control-plane activities share: their dependencies, component names, the cluster CA, a master's ports. */
import { PlanMismatchError } from '../../errors';
import type { HostOps } from '../../lib/hostops';
import { sshTargetOf } from '../../plan/hosts';
import type { Host, Plan } from '../../plan/schema';
import { clientAuthFromKubeconfig, probeReadyz, type ProbeResult } from '../readyz';
import type { ComponentName } from '../types';

export interface ControlPlaneDeps {
  hostOps: () => HostOps;
  /** poll interval of waitComponentHealthy (default 1 s) */
  pollMs?: number;
  /** how long waitComponentHealthy waits before failing (default 10 min) */
  healthDeadlineMs?: number;
  /** the HTTPS /readyz probe (default: probeReadyz from the worker); tests replace it */
  readyz?: ReadyzProbe;
  /** a started component found not running this long fails the wait at once (default 15 s) */
  notRunningGraceMs?: number;
}

/** GET https://HOSTPORT/readyz trusting `ca`, with the plan kubeconfig's credentials if anonymous is refused. */
/** `servername`: check the served certificate for this name instead of the host in hostPort (e.g. the VIP clients will use) */
export type ReadyzProbe = (hostPort: string, ca: Buffer, plan: Plan, servername?: string) => Promise<ProbeResult>;

export const defaultReadyz: ReadyzProbe = (hostPort, ca, plan, servername) =>
  probeReadyz(hostPort, ca, () => clientAuthFromKubeconfig(plan.kubeconfig), 5_000, servername);

const COMPONENT_LABEL: Record<ComponentName, string> = {
  etcd: 'etcd',
  apiserver: 'kube-apiserver',
  controllerManager: 'kube-controller-manager',
  scheduler: 'kube-scheduler',
  loadBalancer: 'apiserver-nginx-lb',
  keepalived: 'keepalived',
};

export const componentLabel = (c: ComponentName) => COMPONENT_LABEL[c];

/** The ports a live master answers on: apiserver, LB, etcd client and peer. */
export function servicePortsOf(plan: Plan, host: Host): number[] {
  const port = (u: string) => Number(new URL(u).port || (u.startsWith('https') ? 443 : 80));
  return [...new Set([plan.apiserver.securePort, plan.loadBalancer.port, port(host.etcd.clientURL), port(host.etcd.peerURL)])];
}

/** The cluster CA from the host's PKI dir: what its serving certs must chain to. */
export async function readCa(plan: Plan, ops: HostOps, host: Pick<Host, 'name' | 'address' | 'ssh'>): Promise<Buffer> {
  const file = `${plan.paths.pkiDir}/ca.crt`;
  const ca = await ops.readFile(sshTargetOf(plan, host), file);
  if (!ca) throw new PlanMismatchError(`${host.name}: ${file} does not exist (copy the PKI first)`);
  return ca;
}
