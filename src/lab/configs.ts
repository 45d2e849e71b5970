/**
 * The lab's "before" configuration files, rendered as an SRE would have them on
 * the old masters, and written into each host's /etc (/etc/netns/NAME/...).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APISERVER_PORT, CLUSTER, HOSTS, IFACE, LB_PORT, SERVICE_CIDR, VIP, VRID, hostsOf, paths, type LabHost } from './layout';
import { kubeconfig, pkiFile } from './pki';
import { ETCD_DATA_DIR } from './hostfs';

const OLD = () => hostsOf('old');
export const etcdClientURL = (h: LabHost) => `http://${h.address}:2379`;
export const etcdPeerURL = (h: LabHost) => `http://${h.address}:2380`;
/** multicast (keepalived's default); unicast listing all six masters; unicast listing only the old ones (split-brain risk, for tests) */
export type VrrpMode = 'multicast' | 'unicast' | 'unicast-old';

export function etcdConf(h: LabHost): string {
  return [
    `# etcd member ${h.name} (lab; read by cpm-svc start etcd)`,
    `name: ${h.name}`,
    `data-dir: ${ETCD_DATA_DIR}`,
    `listen-client-urls: ${etcdClientURL(h)},http://127.0.0.1:2379`,
    `advertise-client-urls: ${etcdClientURL(h)}`,
    `listen-peer-urls: ${etcdPeerURL(h)}`,
    `initial-advertise-peer-urls: ${etcdPeerURL(h)}`,
    `initial-cluster: ${OLD().map((o) => `${o.name}=${etcdPeerURL(o)}`).join(',')}`,
    'initial-cluster-state: new',
    `initial-cluster-token: ${CLUSTER}`,
    'strict-reconfig-check: true',
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
  ]);
}

/** No kubelets run in the lab: controllers that judge node health would evict everything. */
const CONTROLLERS = '*,-node-lifecycle-controller,-node-ipam-controller,-service-lb-controller,-cloud-node-lifecycle-controller,-node-route-controller,-persistentvolume-attach-detach-controller';

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
    '}',
    '',
  ].join('\n');
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
  const lb = `https://${VIP}:${LB_PORT}`;
  const local = `https://127.0.0.1:${APISERVER_PORT}`;
  await writeFile(paths.adminKubeconfig, await kubeconfig(lb, 'kubernetes-admin', 'admin'), { mode: 0o600 });
  for (const h of HOSTS) {
    await put(h, 'kubernetes/kubelet.conf', await kubeconfig(lb, `system:node:${h.name}`, `kubelet-${h.name}`), 0o600);
    if (h.role !== 'old') continue;
    for (const f of ['ca.crt', 'apiserver.crt', 'sa.pub']) await put(h, `kubernetes/pki/${f}`, await pkiFile(f));
    for (const f of ['ca.key', 'apiserver.key', 'sa.key']) await put(h, `kubernetes/pki/${f}`, await pkiFile(f), 0o600);
    await put(h, 'etcd/etcd.conf.yml', etcdConf(h));
    await put(h, 'kubernetes/apiserver.env', apiserverEnv(h));
    await put(h, 'kubernetes/controller-manager.env', controllerManagerEnv(h));
    await put(h, 'kubernetes/scheduler.env', schedulerEnv(h));
    await put(h, 'kubernetes/admin.conf', await kubeconfig(lb, 'kubernetes-admin', 'admin'), 0o600);
    await put(h, 'kubernetes/controller-manager.conf', await kubeconfig(local, 'system:kube-controller-manager', 'controller-manager'), 0o600);
    await put(h, 'kubernetes/scheduler.conf', await kubeconfig(local, 'system:kube-scheduler', 'scheduler'), 0o600);
    await put(h, 'nginx/nginx.conf', nginxConf(OLD()));
    await put(h, 'keepalived/keepalived.conf', keepalivedConf(h, pass, mode, mode === 'unicast' ? [...OLD(), ...hostsOf('new')] : OLD()), 0o600);
  }
}
