/**
 * The lab's "before" configuration files, rendered as an SRE would have them on
 * the old masters, and written into each host's /etc (/etc/netns/NAME/...).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APISERVER_PORT, CLUSTER, HOSTS, IFACE, LB_PORT, SERVICE_CIDR, VIP, VRID, hostsOf, paths, readShape, type LabHost } from './layout';
import { kubeconfig, pkiFile } from './pki';
import { ETCD_DATA_DIR } from './hostfs';

const OLD = () => hostsOf('old');
export const etcdClientURL = (h: LabHost) => `http://${h.address}:2379`;
export const etcdPeerURL = (h: LabHost) => `http://${h.address}:2380`;
/** multicast (keepalived's default); unicast listing all six masters; unicast listing only the old ones (split-brain risk, for tests) */
export type VrrpMode = 'multicast' | 'unicast' | 'unicast-old';

/** The old members' non-default etcd settings (quota 4 GiB, slower election, bigger snapshots, compaction, request size). */
export const LAB_ETCD_TUNING = [
  'quota-backend-bytes: 4294967296',
  'heartbeat-interval: 150',
  'election-timeout: 1500',
  'snapshot-count: 20000',
  'auto-compaction-mode: periodic',
  'auto-compaction-retention: "2h"',
  'max-request-bytes: 3145728',
];
/** What the lab's old members run: the shape's tuning (a rehearsal's, read from a live cluster) or LAB_ETCD_TUNING. */
export const labEtcdTuning = (): string[] => readShape().etcdTuning ?? LAB_ETCD_TUNING;
export const AUDIT_POLICY = '/etc/kubernetes/audit-policy.yaml';
export const ENCRYPTION_CONFIG = '/etc/kubernetes/encryption-config.yaml';
/** the vrrp_script of the old masters' keepalived: is the local LB answering? */
export const LB_CHECK = 'chk_apiserver_lb';

export function auditPolicy(): string {
  return ['# audit policy (lab): metadata for everything', 'apiVersion: audit.k8s.io/v1', 'kind: Policy', 'rules:', '  - level: Metadata', ''].join('\n');
}

/** Secrets encrypted at rest with aescbc; the key is generated once per lab (paths.encryptionKey). */
export function encryptionConfig(key: string): string {
  return [
    '# encryption at rest (lab): Secrets with aescbc',
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: EncryptionConfiguration',
    'resources:',
    '  - resources: [secrets]',
    '    providers:',
    '      - aescbc:',
    '          keys:',
    '            - name: key1',
    `              secret: ${key}`,
    '      - identity: {}',
    '',
  ].join('\n');
}

export function etcdConf(h: LabHost): string {
  return [
    `# etcd member ${h.name} (lab; read by cpm-svc start etcd)`,
    `name: ${h.name}`,
    `data-dir: ${ETCD_DATA_DIR}`,
    `listen-client-urls: ${etcdClientURL(h)},http://127.0.0.1:2379`,
    `advertise-client-urls: ${etcdClientURL(h)}`,
    `listen-peer-urls: ${etcdPeerURL(h)}`,
    `initial-advertise-peer-urls: ${etcdPeerURL(h)}`,
    `initial-cluster: ${OLD()
      .map((o) => `${o.name}=${etcdPeerURL(o)}`)
      .join(',')}`,
    'initial-cluster-state: new',
    `initial-cluster-token: ${CLUSTER}`,
    'strict-reconfig-check: true',
    // non-default settings, as real clusters have them: the new members must carry every one (test/e2e.test.ts)
    ...labEtcdTuning(),
    '',
  ].join('\n');
}

function envFile(title: string, variable: string, flags: string[]): string {
  return [`# ${title} (read by cpm-svc; one flag per line)`, `${variable}="`, ...flags.map((f) => `  ${f}`), '"', ''].join('\n');
}

export function apiserverEnv(h: LabHost): string {
  return envFile(`kube-apiserver on ${h.name}`, 'KUBE_APISERVER_ARGS', [
    `--advertise-address=${h.address}`,
    '--bind-address=0.0.0.0',
    `--secure-port=${APISERVER_PORT}`,
    `--etcd-servers=${OLD().map(etcdClientURL).join(',')}`,
    `--apiserver-count=${OLD().length}`,
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    '--client-ca-file=/etc/kubernetes/pki/ca.crt',
    '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt',
    '--tls-private-key-file=/etc/kubernetes/pki/apiserver.key',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file=/etc/kubernetes/pki/sa.pub',
    '--service-account-signing-key-file=/etc/kubernetes/pki/sa.key',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--enable-admission-plugins=NodeRestriction',
    '--profiling=false',
    `--audit-policy-file=${AUDIT_POLICY}`,
    '--audit-log-path=-',
    `--encryption-provider-config=${ENCRYPTION_CONFIG}`,
  ]);
}

/** No kubelets run in the lab: controllers that judge node health would evict everything. */
const CONTROLLERS =
  '*,-node-lifecycle-controller,-node-ipam-controller,-service-lb-controller,-cloud-node-lifecycle-controller,-node-route-controller,-persistentvolume-attach-detach-controller';

export function controllerManagerEnv(h: LabHost): string {
  const kc = '/etc/kubernetes/controller-manager.conf';
  return envFile(`kube-controller-manager on ${h.name}`, 'KUBE_CONTROLLER_MANAGER_ARGS', [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    '--secure-port=10257',
    '--leader-elect=true',
    `--controllers=${CONTROLLERS}`,
    '--use-service-account-credentials=true',
    '--service-account-private-key-file=/etc/kubernetes/pki/sa.key',
    '--root-ca-file=/etc/kubernetes/pki/ca.crt',
    '--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt',
    '--cluster-signing-key-file=/etc/kubernetes/pki/ca.key',
    '--profiling=false',
  ]);
}

export function schedulerEnv(h: LabHost): string {
  const kc = '/etc/kubernetes/scheduler.conf';
  return envFile(`kube-scheduler on ${h.name}`, 'KUBE_SCHEDULER_ARGS', [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    '--secure-port=10259',
    '--leader-elect=true',
    '--profiling=false',
  ]);
}

export function nginxConf(upstreams: LabHost[]): string {
  return [
    '# apiserver-nginx-lb: TCP proxy from :443 to the apiservers (started by cpm-svc)',
    'load_module /usr/lib/nginx/modules/ngx_stream_module.so;',
    'worker_processes 1;',
    'events {',
    '    worker_connections 1024;',
    '}',
    'stream {',
    '    upstream kube_apiserver {',
    ...upstreams.map((u) => `        server ${u.address}:${APISERVER_PORT} max_fails=0;`),
    '    }',
    '    server {',
    `        listen ${LB_PORT};`,
    '        proxy_pass kube_apiserver;',
    '        proxy_connect_timeout 1s;',
    '        proxy_timeout 10m;',
    '    }',
    '}',
    '',
  ].join('\n');
}

export function keepalivedConf(h: LabHost, pass: string, mode: VrrpMode, peers: LabHost[]): string {
  const first = OLD()[0]?.name === h.name;
  return [
    `# keepalived on ${h.name}: holds the apiserver VIP ${VIP} (VRRP instance shared by all masters)`,
    'global_defs {',
    `    router_id ${h.name}`,
    '    script_user root',
    '    enable_script_security',
    '}',
    // the LB on this host answers TLS (any HTTP status): a failing check lowers the priority a little
    `vrrp_script ${LB_CHECK} {`,
    `    script "/usr/bin/curl -sk -o /dev/null --max-time 2 https://${h.address}:${LB_PORT}/healthz"`,
    '    interval 2',
    '    fall 3',
    '    rise 1',
    '    weight -2',
    '}',
    'vrrp_instance VI_APISERVER {',
    `    state ${first ? 'MASTER' : 'BACKUP'}`,
    `    interface ${IFACE}`,
    `    virtual_router_id ${VRID}`,
    `    priority ${h.keepalivedPriority ?? 100}`,
    '    advert_int 1',
    ...(mode !== 'multicast'
      ? [`    unicast_src_ip ${h.address}`, '    unicast_peer {', ...peers.filter((p) => p.name !== h.name).map((p) => `        ${p.address}`), '    }']
      : []),
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${pass}`,
    '    }',
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev ${IFACE}`,
    '    }',
    '    track_script {',
    `        ${LB_CHECK}`,
    '    }',
    '}',
    '',
  ].join('\n');
}

export async function encryptionKey(): Promise<string> {
  if (!existsSync(paths.encryptionKey)) await writeFile(paths.encryptionKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return (await readFile(paths.encryptionKey, 'utf8')).trim();
}

export async function vrrpPass(): Promise<string> {
  if (!existsSync(paths.vrrpPass)) await writeFile(paths.vrrpPass, randomBytes(6).toString('base64url').slice(0, 8) + '\n', { mode: 0o600 });
  return (await readFile(paths.vrrpPass, 'utf8')).trim();
}

async function put(h: LabHost, rel: string, content: string, mode = 0o644): Promise<void> {
  const file = join(paths.etcOf(h.name), rel);
  await writeFile(file, content, { mode });
  await chmod(file, mode);
}

/** Writes every host's "before" files. Old masters get the whole control plane. */
export async function writeConfigs(mode: VrrpMode): Promise<void> {
  const pass = await vrrpPass();
  const key = await encryptionKey();
  const lb = `https://${VIP}:${LB_PORT}`;
  const local = `https://127.0.0.1:${APISERVER_PORT}`;
  await writeFile(paths.adminKubeconfig, await kubeconfig(lb, 'kubernetes-admin', 'admin'), { mode: 0o600 });
  for (const h of HOSTS) {
    await put(h, 'kubernetes/kubelet.conf', await kubeconfig(lb, `system:node:${h.name}`, `kubelet-${h.name}`), 0o600);
    if (h.role !== 'old') continue;
    for (const f of ['ca.crt', 'apiserver.crt', 'sa.pub']) await put(h, `kubernetes/pki/${f}`, await pkiFile(f));
    for (const f of ['ca.key', 'apiserver.key', 'sa.key']) await put(h, `kubernetes/pki/${f}`, await pkiFile(f), 0o600);
    // 0600 configs, as hardened clusters have them: the new masters must get the same modes
    await put(h, 'etcd/etcd.conf.yml', etcdConf(h), 0o600);
    await put(h, 'kubernetes/apiserver.env', apiserverEnv(h), 0o600);
    await put(h, 'kubernetes/audit-policy.yaml', auditPolicy(), 0o600);
    await put(h, 'kubernetes/encryption-config.yaml', encryptionConfig(key), 0o600);
    await put(h, 'kubernetes/controller-manager.env', controllerManagerEnv(h), 0o600);
    await put(h, 'kubernetes/scheduler.env', schedulerEnv(h), 0o600);
    await put(h, 'kubernetes/admin.conf', await kubeconfig(lb, 'kubernetes-admin', 'admin'), 0o600);
    await put(h, 'kubernetes/controller-manager.conf', await kubeconfig(local, 'system:kube-controller-manager', 'controller-manager'), 0o600);
    await put(h, 'kubernetes/scheduler.conf', await kubeconfig(local, 'system:kube-scheduler', 'scheduler'), 0o600);
    await put(h, 'nginx/nginx.conf', nginxConf(OLD()), 0o600);
    await put(h, 'keepalived/keepalived.conf', keepalivedConf(h, pass, mode, mode === 'unicast' ? [...OLD(), ...hostsOf('new')] : OLD()), 0o600);
  }
}
