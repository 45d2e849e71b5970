/**
 * The pre-decommission inventory against a REAL kube-apiserver
 * (test/support/kube-control-plane.ts, 127.0.17.1): ConfigMaps, kubeconfig
 * Secrets (only their server line shown), Endpoints and EndpointSlices that
 * name an old master; kubelet.conf on the plan's nodes (an in-memory HostOps:
 * the SSH path is ssh.test.ts'); the plan's kubeconfig files on the worker.
 * Read-only: the objects are unchanged afterwards. Run under the test lock.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInventoryActivities, type Inventory } from '../src/activities/inventory';
import { kubeClients } from '../src/lib/kube';
import { planSchema, type Plan } from '../src/plan/schema';
import { FakeHosts } from './support/fake-hosts';
import { kubeControlPlaneUnavailable, startKubeControlPlane, type KubeControlPlane } from './support/kube-control-plane';
import { examplePlanInput } from './support/plans';

const unavailable = kubeControlPlaneUnavailable();
if (unavailable) throw new Error(unavailable);

let cp: KubeControlPlane;
let plan: Plan;
let inv: Inventory;
const hosts = new FakeHosts();
const dir = mkdtempSync(path.join(tmpdir(), 'cpm-inv-'));
const KEY_DATA = 'c2VjcmV0LWNsaWVudC1rZXktbmV2ZXItc2hvd24tMTIzNDU2Nzg5MA==';

const kubeconfig = (server: string, extra = '') =>
  `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\nusers:\n- name: u\n  user:\n${extra || '    token: x'}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`;

beforeAll(async () => {
  cp = await startKubeControlPlane({ ip: '127.0.17.1', controllerManager: false, scheduler: false });
  const userKc = path.join(dir, 'alice.kubeconfig');
  writeFileSync(userKc, kubeconfig('https://oldmaster-2:6443'));
  const input = examplePlanInput();
  plan = planSchema.parse({
    ...input,
    kubeconfig: cp.kubeconfigPath,
    clients: { ...(input.clients ?? {}), userKubeconfigs: [userKc, 'the CI robot (a description, not a file)'] },
  });
  const k = kubeClients(cp.kc);
  const disc = cp.kc.makeApiClient(DiscoveryV1Api);
  await k.core.createNamespacedConfigMap({
    namespace: 'kube-public',
    body: { metadata: { name: 'cluster-info' }, data: { kubeconfig: kubeconfig('https://10.200.20.11:6443') } },
  });
  // 10.200.20.111 is not 10.200.20.11, master-10 is not master-1: whole tokens only
  await k.core.createNamespacedConfigMap({
    namespace: 'kube-system',
    body: { metadata: { name: 'unrelated' }, data: { a: 'peer 10.200.20.111 and oldmaster-10' } },
  });
  await k.core.createNamespacedSecret({
    namespace: 'kube-system',
    body: {
      metadata: { name: 'bootstrap-kc' },
      stringData: { 'admin.conf': kubeconfig('https://10.200.20.12:6443', `    client-key-data: ${KEY_DATA}`), password: '10.200.20.13 is not a kubeconfig' },
    },
  });
  await k.core.createNamespacedEndpoints({
    namespace: 'kube-system',
    body: { metadata: { name: 'kube-apiserver-exporter' }, subsets: [{ addresses: [{ ip: '10.200.20.11' }], ports: [{ port: 9100 }] }] },
  });
  await k.core.createNamespacedEndpoints({
    namespace: 'default',
    body: { metadata: { name: 'legacy-etcd' }, subsets: [{ addresses: [{ ip: '10.200.20.13' }], ports: [{ port: 2379 }] }] },
  });
  await disc.createNamespacedEndpointSlice({
    namespace: 'default',
    body: {
      metadata: { name: 'metrics-abc', labels: { 'kubernetes.io/service-name': 'metrics' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.200.20.101'], nodeName: 'oldmaster-3' }],
      ports: [{ port: 443 }],
    },
  });
  hosts.host('master-1').files.set('/etc/kubernetes/kubelet.conf', kubeconfig('https://10.200.20.11:6443'));
  hosts.host('master-2').files.set('/etc/kubernetes/kubelet.conf', kubeconfig('https://10.200.20.100:443'));
  hosts.host('master-3').unreachable = true;
  inv = await createInventoryActivities({ hostOps: () => hosts, kubeConfig: () => cp.kc }).inventoryOldMasterRefs(plan);
}, 180_000);

afterAll(async () => {
  await cp?.stop();
}, 60_000);

describe('inventoryOldMasterRefs on a real kube-apiserver', () => {
  it('finds every reference, with its line, and marks the ones the migration removes itself as expected', () => {
    const byRef = Object.fromEntries(inv.refs.map((r) => [r.ref, r]));
    expect(Object.keys(byRef).sort()).toEqual(
      [
        'ConfigMap/kube-public/cluster-info:kubeconfig',
        'EndpointSlice/default/metrics-abc',
        'Endpoints/default/legacy-etcd',
        'Endpoints/kube-system/kube-apiserver-exporter',
        'Secret/kube-system/bootstrap-kc:admin.conf',
        'kubelet/master-1',
        `kubeconfig/${plan.clients.userKubeconfigs[0]}`,
      ].sort(),
    );
    expect(byRef['ConfigMap/kube-public/cluster-info:kubeconfig']).toEqual({
      ref: 'ConfigMap/kube-public/cluster-info:kubeconfig',
      names: ['10.200.20.11'],
      line: 'server: https://10.200.20.11:6443',
    });
    expect(byRef['Endpoints/kube-system/kube-apiserver-exporter']?.expected).toMatch(/the monitoring step replaces/);
    expect(byRef['Endpoints/default/legacy-etcd']).toMatchObject({ names: ['10.200.20.13'] });
    expect(byRef['Endpoints/default/legacy-etcd']?.expected).toBeUndefined();
    expect(byRef['EndpointSlice/default/metrics-abc']).toMatchObject({ names: ['oldmaster-3'] });
    expect(byRef['kubelet/master-1']?.line).toBe('/etc/kubernetes/kubelet.conf server: https://10.200.20.11:6443');
    expect(byRef[`kubeconfig/${plan.clients.userKubeconfigs[0]}`]).toMatchObject({ names: ['oldmaster-2'], line: 'server: https://oldmaster-2:6443' });
  });

  it('never shows a Secret beyond its kubeconfig server line, and reads only kubeconfig-like Secret keys', () => {
    expect(inv.refs.find((r) => r.ref === 'Secret/kube-system/bootstrap-kc:admin.conf')).toEqual({
      ref: 'Secret/kube-system/bootstrap-kc:admin.conf',
      names: ['10.200.20.12'],
      line: 'server: https://10.200.20.12:6443',
    });
    expect(JSON.stringify(inv)).not.toContain(KEY_DATA);
    expect(inv.refs.some((r) => r.ref.includes(':password'))).toBe(false);
  });

  it('lists what it could not read instead of skipping it, and what it read', () => {
    expect(inv.unreadable).toEqual(expect.arrayContaining([expect.stringMatching(/^kubelet\/master-3: /)]));
    expect(inv.scanned).toEqual(expect.arrayContaining(['/etc/kubernetes/kubelet.conf on 2 of 3 node(s)', '2 kubeconfig file(s) of the plan on the worker']));
    expect(inv.summary).toMatch(/^7 reference\(s\) to old masters \(6 to fix or acknowledge, 1 expected\); 1 source\(s\) unreadable; read kube-system: /);
  });

  it('changes nothing it read', async () => {
    const k = kubeClients(cp.kc);
    const cm = await k.core.readNamespacedConfigMap({ namespace: 'kube-public', name: 'cluster-info' });
    expect(cm.data?.kubeconfig).toContain('https://10.200.20.11:6443');
    expect(hosts.commands.filter((c) => !/^(stat |cat |\[ -e )/.test(c.command))).toEqual([]);
  });
});
