/**
 * The lab's fixed shape: hosts, addresses, ports and where its state lives.
 * Everything the lab creates is named here, so `lab down` removes exactly that.
 */
import { join } from 'node:path';

export type Role = 'old' | 'new' | 'worker';

export interface LabHost {
  name: string;
  role: Role;
  address: string;
  /** host side of the veth pair (max 15 chars) */
  veth: string;
  keepalivedPriority?: number;
  /** a Node the plan does not list: preflight finds it through the API and reaches it with defaults.ssh */
  unlisted?: boolean;
}

export const LAB_DIR = process.env.CPM_LAB_DIR ?? '/var/lib/cpmigrate-lab';
export const BRIDGE = 'cpm-br0';
export const SUBNET_PREFIX = '198.18.0.';
export const BRIDGE_ADDR = `${SUBNET_PREFIX}1`;
export const VIP = `${SUBNET_PREFIX}100`;
export const IFACE = 'eth0';
export const APISERVER_PORT = 6443;
export const LB_PORT = 443;
export const VRID = 51;
export const CLUSTER = 'cpm-lab';
export const SERVICE_CIDR = '10.96.0.0/12';
export const SERVICE_IP = '10.96.0.1';

function host(name: string, role: Role, last: number, keepalivedPriority?: number, unlisted?: boolean): LabHost {
  return { name, role, address: `${SUBNET_PREFIX}${last}`, veth: `cpm-${name}`.slice(0, 15), keepalivedPriority, ...(unlisted ? { unlisted } : {}) };
}

export const HOSTS: LabHost[] = [
  host('oldmaster-1', 'old', 11, 100),
  host('oldmaster-2', 'old', 12, 99),
  host('oldmaster-3', 'old', 13, 98),
  host('master-1', 'new', 21, 150),
  host('master-2', 'new', 22, 140),
  host('master-3', 'new', 23, 130),
  host('worker-1', 'worker', 31),
  host('worker-2', 'worker', 32, undefined, true),
];

export const hostsOf = (role: Role): LabHost[] => HOSTS.filter((h) => h.role === role);

export function labHost(name: string): LabHost {
  const h = HOSTS.find((x) => x.name === name);
  if (!h) throw new Error(`no lab host "${name}" (hosts: ${HOSTS.map((x) => x.name).join(', ')})`);
  return h;
}

/** Per-host /etc entries bind-mounted by `ip netns exec` over the root's /etc/<entry>. */
export const ETC_DIRS = ['kubernetes', 'etcd', 'nginx', 'keepalived', 'cpm-lab'] as const;

export const paths = {
  state: LAB_DIR,
  sshKey: join(LAB_DIR, 'ssh', 'id_ed25519'),
  /** every host's key by address: defaults.ssh for Nodes the plan does not list */
  knownHosts: join(LAB_DIR, 'ssh', 'known_hosts'),
  pki: join(LAB_DIR, 'pki'),
  plan: join(LAB_DIR, 'plan.yaml'),
  vrrpPass: join(LAB_DIR, 'vrrp-pass'),
  /** aescbc key of the apiservers' encryption at rest */
  encryptionKey: join(LAB_DIR, 'encryption-key'),
  adminKubeconfig: join(LAB_DIR, 'admin.conf'),
  snapshot: join(LAB_DIR, 'backup', 'etcd-before-migration.db'),
  ready: join(LAB_DIR, 'ready'),
  createdTargets: join(LAB_DIR, 'created-etc-targets'),
  svcScript: '/usr/local/sbin/cpm-svc',
  /** the lab's stand-in kubelet (src/lab/kubelet.ts), started by `cpm-svc start kubelet` */
  kubeletScript: '/usr/local/sbin/cpm-kubelet',
  hostDir: (name: string) => join(LAB_DIR, 'hosts', name),
  etcOf: (name: string) => `/etc/netns/${name}`,
  agentPid: join(LAB_DIR, 'node-agent.pid'),
  agentLog: join(LAB_DIR, 'node-agent.log'),
};

/** Where the Kubernetes binaries are built (scripts/build-kube.sh). */
export function kubeBinDir(version: string): string {
  return join(process.env.CPM_KUBE_CACHE ?? '/var/cache/cpmigrate/kube', version, 'bin');
}
