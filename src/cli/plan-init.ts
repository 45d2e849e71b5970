/**
 * `cpmigrate plan init`: draft a plan from the live cluster. Control-plane
 * nodes come from their role label, etcd members from the member list, the
 * LB address from kube-proxy's ConfigMap. What only a human knows (the new
 * masters, SSH access) is left as clearly marked placeholders, so
 * `plan validate` points at exactly what remains to fill in.
 */
import * as k8s from '@kubernetes/client-node';
import { Document } from 'yaml';
import { discoverMembers, type EtcdMember } from '../lib/etcd';
import { kubeProxyServerFromData } from '../lib/kube';
import { urlHost } from '../plan/hosts';

export interface InitOptions {
  kubeconfig: string;
  etcdEndpoints: string[];
  etcdTls?: { caFile: string; certFile: string; keyFile: string };
  cluster?: string;
}

const ROLE_LABELS = ['node-role.kubernetes.io/master', 'node-role.kubernetes.io/control-plane'];
const TODO = 'TODO';

function internalIP(node: k8s.V1Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

export interface InitResult {
  yaml: string;
  found: { masters: string[]; etcdMembers: string[]; lb?: string };
  warnings: string[];
}

export async function draftPlan(opts: InitOptions): Promise<InitResult> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(opts.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const warnings: string[] = [];

  const nodes = (await core.listNode({})).items;
  const masters = nodes.filter((n) => ROLE_LABELS.some((l) => n.metadata?.labels?.[l] !== undefined));
  if (masters.length < 1 || masters.length > 7)
    warnings.push(`found ${masters.length} control-plane nodes (labels ${ROLE_LABELS.join(' or ')}); cpmigrate moves 1 to 7 masters`);

  const { members } = await discoverMembers({ tls: opts.etcdTls, callTimeoutMs: 5_000, maxRaftIndexLag: 1000 }, opts.etcdEndpoints);
  const byAddress = new Map<string, EtcdMember>();
  for (const m of members) for (const u of m.peerURLs) byAddress.set(urlHost(u), m);

  let lb: string | undefined;
  try {
    const cm = await core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
    lb = kubeProxyServerFromData(cm.data);
  } catch (e) {
    warnings.push(`kube-system/kube-proxy ConfigMap not readable (${(e as Error).message.split('\n')[0]}): set loadBalancer.vip by hand`);
  }
  const lbURL = lb ? new URL(lb) : undefined;

  const oldMasters = masters.map((n) => {
    const name = n.metadata?.name ?? TODO;
    const address = internalIP(n) ?? TODO;
    const m = byAddress.get(address);
    if (!m) warnings.push(`no etcd member has a peer URL on ${name}'s address ${address}: fill oldMasters[].etcd by hand`);
    return {
      name,
      address,
      etcd: m
        ? { name: m.name || name, clientURL: m.clientURLs[0] ?? `http://${address}:2379`, peerURL: m.peerURLs[0] ?? `http://${address}:2380` }
        : { name, clientURL: `http://${address}:2379`, peerURL: `http://${address}:2380` },
    };
  });
  const scheme = members[0]?.clientURLs[0]?.startsWith('https') ? 'https' : 'http';
  const newMasters = [1, 2, 3].map((i) => ({
    name: `${TODO}-new-master-${i}`,
    address: `${TODO}`,
    etcd: { name: `${TODO}-new-master-${i}`, clientURL: `${scheme}://${TODO}:2379`, peerURL: `${scheme}://${TODO}:2380` },
  }));

  const cluster = opts.cluster ?? (kc.getCurrentCluster()?.name || 'my-cluster').toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const plan = {
    apiVersion: 'cpmigrate/v1',
    kind: 'MigrationPlan',
    cluster,
    kubeconfig: opts.kubeconfig,
    defaults: { ssh: { user: 'root', port: 22, privateKeyPath: '/root/.ssh/id_ed25519', knownHostsPath: '/root/.ssh/known_hosts' } },
    oldMasters,
    newMasters,
    etcd: {
      ...(opts.etcdTls ? { tls: opts.etcdTls } : {}),
      snapshotPath: `/var/backups/cpmigrate/${cluster}-before-migration.db`,
      prepareDataDir: [],
      service: { type: 'systemd', unit: 'etcd' },
    },
    apiserver: { securePort: 6443, service: { type: 'systemd', unit: 'kube-apiserver' } },
    controllerManager: { service: { type: 'systemd', unit: 'kube-controller-manager' } },
    scheduler: { service: { type: 'systemd', unit: 'kube-scheduler' } },
    loadBalancer: { vip: lbURL?.hostname ?? TODO, port: lbURL ? Number(lbURL.port || 443) : 443, service: { type: 'systemd', unit: 'apiserver-nginx-lb' } },
    keepalived: { interface: 'eth0', virtualRouterId: 51, service: { type: 'systemd', unit: 'keepalived' } },
  };
  const doc = new Document(plan);
  doc.commentBefore = [
    ` cpmigrate plan drafted by \`cpmigrate plan init\` from ${opts.kubeconfig} and etcd ${opts.etcdEndpoints.join(',')}.`,
    ' Fill in every TODO (the new masters, their addresses and etcd URLs), check the SSH access,',
    ' the service commands and paths, then run: npx cpmigrate plan validate <this file>',
  ].join('\n');
  return {
    yaml: doc.toString({ lineWidth: 0 }),
    found: { masters: oldMasters.map((m) => m.name), etcdMembers: members.map((m) => m.name || m.id), lb },
    warnings,
  };
}
