/**
 * The lab's fixed shape: hosts, addresses, ports and where its state lives.
 * Everything the lab creates is named here, so `lab down` removes exactly that.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** an old master that is also a new one (kept: nothing is removed or re-joined there) */
  kept?: true;
  /** an old master powered off once the lab is up (the plan marks it state: failed) */
  failed?: true;
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

function host(name: string, role: Role, last: number, keepalivedPriority?: number, extra: Partial<LabHost> = {}): LabHost {
  return { name, role, address: `${SUBNET_PREFIX}${last}`, veth: `cpm-${name}`.slice(0, 15), keepalivedPriority, ...extra };
}

/** The lab's shape: `npm run lab -- up --old N --new M [--shared NAME…] [--failed NAME]`. */
export interface LabShape {
  /** old masters oldmaster-1..N (1–7) */
  old: number;
  /** new masters: the shared old ones, then master-1.. (1–7 in all) */
  new: number;
  /** old masters that are also new masters (kept) */
  shared: string[];
  /** an old master powered off before the migration (replaced by a new host) */
  failed?: string;
  /** the plan's strategy (default: the planner's) */
  strategy?: 'grow-then-shrink' | 'rolling';
  /** the old members' etcd tuning, `key: value` lines (default: the lab's non-default set, LAB_ETCD_TUNING); `cpmigrate rehearse --from-live` */
  etcdTuning?: string[];
}

/** The runbook's shape: 3 → 3. */
export const DEFAULT_SHAPE: LabShape = { old: 3, new: 3, shared: [] };

/** Names, addresses and keepalived priorities derived from the shape; every problem at once. */
export function hostsForShape(shape: LabShape): LabHost[] {
  const problems: string[] = [];
  for (const k of ['old', 'new'] as const)
    if (!Number.isInteger(shape[k]) || shape[k] < 1 || shape[k] > 7) problems.push(`--${k} must be 1 to 7, not ${shape[k]}`);
  const oldNames = Array.from({ length: shape.old }, (_, i) => `oldmaster-${i + 1}`);
  for (const s of shape.shared) if (!oldNames.includes(s)) problems.push(`--shared ${s}: not an old master (${oldNames.join(', ')})`);
  if (new Set(shape.shared).size !== shape.shared.length) problems.push('--shared names a host twice');
  if (shape.shared.length > shape.new) problems.push(`--shared lists ${shape.shared.length} hosts but --new is ${shape.new}`);
  if (shape.failed !== undefined && !oldNames.includes(shape.failed)) problems.push(`--failed ${shape.failed}: not an old master (${oldNames.join(', ')})`);
  if (shape.failed !== undefined && shape.shared.includes(shape.failed)) problems.push(`--failed ${shape.failed} is also --shared: a dead host cannot be kept`);
  if (problems.length) throw new Error(`bad lab shape:\n  ${problems.join('\n  ')}`);
  const olds = oldNames.map((name, i) =>
    host(name, 'old', 11 + i, 100 - i, {
      ...(shape.shared.includes(name) ? { kept: true as const } : {}),
      ...(shape.failed === name ? { failed: true as const } : {}),
    }),
  );
  const news = Array.from({ length: shape.new - shape.shared.length }, (_, i) => host(`master-${i + 1}`, 'new', 21 + i, 150 - 10 * i));
  return [...olds, ...news, host('worker-1', 'worker', 31), host('worker-2', 'worker', 32, undefined, { unlisted: true })];
}

function shapeFile(): string {
  return join(LAB_DIR, 'shape.json');
}

/** The shape the lab was built with (default: the runbook's 3 → 3). */
export function readShape(): LabShape {
  try {
    return { ...DEFAULT_SHAPE, ...(JSON.parse(readFileSync(shapeFile(), 'utf8')) as Partial<LabShape>) };
  } catch {
    return DEFAULT_SHAPE;
  }
}

/** Every host of the lab in its current shape; one array, changed in place by setShape. */
export const HOSTS: LabHost[] = hostsForShape(readShape());

/** Build the lab in this shape from now on (the caller writes it with writeShape once the lab dir exists). */
export function setShape(shape: LabShape): void {
  HOSTS.splice(0, HOSTS.length, ...hostsForShape(shape));
}

export function writeShape(shape: LabShape): void {
  mkdirSync(LAB_DIR, { recursive: true });
  writeFileSync(shapeFile(), `${JSON.stringify(shape, null, 2)}\n`);
}

export const sameShape = (a: LabShape, b: LabShape): boolean =>
  a.old === b.old &&
  a.new === b.new &&
  a.failed === b.failed &&
  a.strategy === b.strategy &&
  [...a.shared].sort().join() === [...b.shared].sort().join() &&
  JSON.stringify(a.etcdTuning ?? null) === JSON.stringify(b.etcdTuning ?? null);

export const hostsOf = (role: Role): LabHost[] => HOSTS.filter((h) => h.role === role);

/** The plan's new masters: the kept old ones, then the new hosts. */
export const newMastersOf = (): LabHost[] => [...HOSTS.filter((h) => h.kept), ...hostsOf('new')];

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
