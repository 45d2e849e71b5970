/**
 * The lab cluster's Kubernetes objects, as the runbook's "before" state:
 * kube-proxy and calico-config ConfigMaps, the calico-node DaemonSet and the
 * calico-policy-controller Deployment, the kube-apiserver-exporter Endpoints,
 * and workload pods on the new masters for the drain (a Deployment with a PDB,
 * plus one unmanaged pod per new master). Created if absent; waits until the
 * pods are Ready (the node agent plays the kubelets).
 */
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1PodSpec } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { APISERVER_PORT, LB_PORT, VIP, hostsOf, paths } from './layout';
import { etcdClientURL } from './configs';
import { waitFor } from './exec';

const KS = 'kube-system';
const DEMO = 'demo';

async function createIfAbsent(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

function podSpec(image: string, extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return { containers: [{ name: 'main', image }], terminationGracePeriodSeconds: 5, ...extra };
}

export function kubeProxyKubeconfig(server: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server, 'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt' } }],
    users: [{ name: 'default', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
    contexts: [{ name: 'default', context: { cluster: 'default', namespace: 'default', user: 'default' } }],
    'current-context': 'default',
  });
}

export async function clusterUp(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const everywhere = { tolerations: [{ operator: 'Exists' }] };

  await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: DEMO } } }));
  await createIfAbsent(() =>
    core.createNamespacedConfigMap({
      namespace: KS,
      body: {
        metadata: { name: 'kube-proxy', labels: { app: 'kube-proxy' } },
        data: {
          'kubeconfig.conf': kubeProxyKubeconfig(`https://${VIP}:${LB_PORT}`),
          'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n',
        },
      },
    }),
  );
  await createIfAbsent(() =>
    core.createNamespacedConfigMap({
      namespace: KS,
      body: {
        metadata: { name: 'calico-config' },
        data: { etcd_endpoints: hostsOf('old').map(etcdClientURL).join(','), calico_backend: 'bird', veth_mtu: '1440' },
      },
    }),
  );
  await createIfAbsent(() =>
    apps.createNamespacedDaemonSet({
      namespace: KS,
      body: {
        metadata: { name: 'kube-proxy', labels: { 'k8s-app': 'kube-proxy' } },
        spec: {
          selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
          template: {
            metadata: { labels: { 'k8s-app': 'kube-proxy' } },
            spec: {
              ...podSpec('registry.invalid/kube-proxy:lab', everywhere),
              containers: [
                { name: 'kube-proxy', image: 'registry.invalid/kube-proxy:lab', command: ['kube-proxy', '--config=/var/lib/kube-proxy/config.conf'] },
              ],
              volumes: [{ name: 'kube-proxy', configMap: { name: 'kube-proxy' } }],
            },
          },
        },
      },
    }),
  );
  const calicoEnv = [{ name: 'ETCD_ENDPOINTS', valueFrom: { configMapKeyRef: { name: 'calico-config', key: 'etcd_endpoints' } } }];
  await createIfAbsent(() =>
    apps.createNamespacedDaemonSet({
      namespace: KS,
      body: {
        metadata: { name: 'calico-node', labels: { 'k8s-app': 'calico-node' } },
        spec: {
          selector: { matchLabels: { 'k8s-app': 'calico-node' } },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
          template: {
            metadata: { labels: { 'k8s-app': 'calico-node' } },
            spec: {
              ...podSpec('registry.invalid/calico/node:v3.0-lab', everywhere),
              containers: [{ name: 'calico-node', image: 'registry.invalid/calico/node:v3.0-lab', env: calicoEnv }],
            },
          },
        },
      },
    }),
  );
  await createIfAbsent(() =>
    apps.createNamespacedDeployment({
      namespace: KS,
      body: {
        metadata: { name: 'calico-policy-controller', labels: { 'k8s-app': 'calico-policy-controller' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'k8s-app': 'calico-policy-controller' } },
          template: {
            metadata: { labels: { 'k8s-app': 'calico-policy-controller' } },
            spec: {
              ...podSpec('registry.invalid/calico/kube-controllers:v3.0-lab', everywhere),
              containers: [{ name: 'calico-policy-controller', image: 'registry.invalid/calico/kube-controllers:v3.0-lab', env: calicoEnv }],
            },
          },
        },
      },
    }),
  );
  await createIfAbsent(() =>
    core.createNamespacedService({
      namespace: KS,
      body: {
        metadata: { name: 'kube-apiserver-exporter', labels: { 'k8s-app': 'kube-apiserver-exporter' } },
        spec: { clusterIP: 'None', ports: [{ name: 'https', port: APISERVER_PORT }] },
      },
    }),
  );
  await createIfAbsent(() =>
    core.createNamespacedEndpoints({
      namespace: KS,
      body: {
        metadata: { name: 'kube-apiserver-exporter', labels: { 'k8s-app': 'kube-apiserver-exporter' } },
        subsets: [{ addresses: hostsOf('old').map((h) => ({ ip: h.address })), ports: [{ name: 'https', port: APISERVER_PORT, protocol: 'TCP' }] }],
      },
    }),
  );
  // workloads the drain of the new masters must move: a Deployment spread over all nodes, with a PDB
  await createIfAbsent(() =>
    apps.createNamespacedDeployment({
      namespace: DEMO,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 7,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: podSpec('registry.invalid/demo/web:1', {
              topologySpreadConstraints: [
                { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } },
              ],
            }),
          },
        },
      },
    }),
  );
  await createIfAbsent(() =>
    policy.createNamespacedPodDisruptionBudget({
      namespace: DEMO,
      body: { metadata: { name: 'web' }, spec: { minAvailable: 5, selector: { matchLabels: { app: 'web' } } } },
    }),
  );
  for (const h of hostsOf('new')) {
    await createIfAbsent(() =>
      core.createNamespacedPod({
        namespace: DEMO,
        body: { metadata: { name: `scratch-${h.name}`, labels: { app: 'scratch' } }, spec: podSpec('registry.invalid/demo/scratch:1', { nodeName: h.name }) },
      }),
    );
  }

  const nodes = hostsOf('old').length + hostsOf('new').length + hostsOf('worker').length;
  await waitFor(
    `lab pods Ready (calico-node and kube-proxy on ${nodes} nodes, calico-policy-controller, demo/web 7/7, scratch pods)`,
    90_000,
    async () => {
      const pods = await core.listPodForAllNamespaces({});
      const ready = (p: (typeof pods.items)[number]) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !p.metadata?.deletionTimestamp;
      const count = (pred: (p: (typeof pods.items)[number]) => boolean) => pods.items.filter((p) => pred(p) && ready(p)).length;
      const ok =
        count((p) => p.metadata?.labels?.['k8s-app'] === 'calico-node') === nodes &&
        count((p) => p.metadata?.labels?.['k8s-app'] === 'kube-proxy') === nodes &&
        count((p) => p.metadata?.labels?.['k8s-app'] === 'calico-policy-controller') === 1 &&
        count((p) => p.metadata?.labels?.app === 'web') === 7 &&
        count((p) => p.metadata?.labels?.app === 'scratch') === hostsOf('new').length;
      return ok ? true : undefined;
    },
    500,
  );
}
