/**
 * Kube activities: pure helpers, then every activity against a real
 * kube-apiserver + controller-manager + scheduler (test/support/kube-control-plane.ts)
 * with the test node agent standing in for kubelets.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, AppsV1Api, CoreV1Api, PolicyV1Api, type V1DaemonSet, type V1Deployment, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { createKubeActivities, RESTARTED_AT_ANNOTATION, type KubePlan } from '../src/activities/kube';
import {
  applyTaintChanges,
  classifyForDrain,
  daemonSetProgress,
  deploymentProgress,
  endpointsSubsets,
  kubeProxyServerFromData,
  labelPatch,
  parseLabelChange,
  parseTaintChange,
  toKubeError,
  KubeApiError,
  pdbFromEvictionError,
  mergePatch,
} from '../src/lib/kube';
import { KubeAuthError, PlanMismatchError, UnsafeOperationError } from '../src/errors';
import { kubeControlPlaneUnavailable, startKubeControlPlane, type KubeControlPlane } from './support/kube-control-plane';
import { startNodeAgent, type NodeAgent } from '../src/lab/node-agent';

const K = { server: 'https://10.0.0.1:6443', source: 'kubeconfig /x' };

describe('kube helpers (pure)', () => {
  it('parses kubectl label syntax and builds a minimal merge patch', () => {
    expect(parseLabelChange('node-role.kubernetes.io/master=true')).toEqual({ key: 'node-role.kubernetes.io/master', value: 'true' });
    expect(parseLabelChange('node-role.kubernetes.io/master-')).toEqual({ key: 'node-role.kubernetes.io/master', value: null });
    expect(parseLabelChange('empty=')).toEqual({ key: 'empty', value: '' });
    expect(() => parseLabelChange('novalue')).toThrow(PlanMismatchError);
    expect(() => parseLabelChange('Bad_Prefix/x=1')).toThrow(/prefix/);
    expect(() => parseLabelChange('k=has space')).toThrow(/value/);
    const cur = { a: '1', b: '2' };
    expect(labelPatch(cur, [{ key: 'a', value: '1' }])).toBeUndefined();
    expect(labelPatch(cur, [{ key: 'c', value: null }])).toBeUndefined();
    expect(
      labelPatch(cur, [
        { key: 'a', value: '9' },
        { key: 'b', value: null },
        { key: 'c', value: '3' },
      ]),
    ).toEqual({ a: '9', b: null, c: '3' });
  });

  it('parses kubectl taint syntax and applies add/update/remove by key and effect', () => {
    expect(parseTaintChange('test-only=true:NoSchedule')).toEqual({ op: 'set', key: 'test-only', value: 'true', effect: 'NoSchedule' });
    expect(parseTaintChange('dedicated:NoExecute')).toEqual({ op: 'set', key: 'dedicated', value: '', effect: 'NoExecute' });
    expect(parseTaintChange('test-only-')).toEqual({ op: 'remove', key: 'test-only' });
    expect(parseTaintChange('test-only:NoSchedule-')).toEqual({ op: 'remove', key: 'test-only', effect: 'NoSchedule' });
    expect(parseTaintChange('test-only=true:NoSchedule-')).toEqual({ op: 'remove', key: 'test-only', effect: 'NoSchedule' });
    expect(() => parseTaintChange('test-only=true')).toThrow(/use key=value:Effect/);
    expect(() => parseTaintChange('k=v:NoWay')).toThrow(/effect "NoWay"/);

    const cur = [
      { key: 'keep', value: 'me', effect: 'PreferNoSchedule' },
      { key: 'test-only', value: 'true', effect: 'NoSchedule' },
      { key: 'test-only', value: 'true', effect: 'NoExecute' },
    ];
    const set = applyTaintChanges(cur, [parseTaintChange('test-only=false:NoSchedule'), parseTaintChange('m=true:NoSchedule')]);
    expect(set).toEqual([
      { key: 'keep', value: 'me', effect: 'PreferNoSchedule' },
      { key: 'test-only', value: 'false', effect: 'NoSchedule' },
      { key: 'test-only', value: 'true', effect: 'NoExecute' },
      { key: 'm', value: 'true', effect: 'NoSchedule' },
    ]);
    expect(applyTaintChanges(cur, [parseTaintChange('test-only:NoExecute-')]).map((t) => `${t.key}:${t.effect}`)).toEqual([
      'keep:PreferNoSchedule',
      'test-only:NoSchedule',
    ]);
    expect(applyTaintChanges(cur, [parseTaintChange('test-only-')])).toEqual([{ key: 'keep', value: 'me', effect: 'PreferNoSchedule' }]);
    expect(applyTaintChanges(cur, [parseTaintChange('absent-')])).toEqual(cur);
  });

  it('classifies pods like kubectl drain --ignore-daemonsets', () => {
    const pod = (meta: V1Pod['metadata'], phase = 'Running'): V1Pod => ({ metadata: { name: 'p', namespace: 'n', ...meta }, status: { phase } });
    const owner = (kind: string) => [{ apiVersion: 'apps/v1', kind, name: 'o', uid: 'u', controller: true }];
    expect(classifyForDrain(pod({ ownerReferences: owner('ReplicaSet') }))).toBe('evict');
    expect(classifyForDrain(pod({ ownerReferences: owner('DaemonSet') }))).toBe('daemonSet');
    expect(classifyForDrain(pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' } }))).toBe('mirror');
    expect(classifyForDrain(pod({}))).toBe('unmanaged');
    expect(classifyForDrain(pod({}, 'Succeeded'))).toBe('evict');
    expect(classifyForDrain(pod({ ownerReferences: owner('ReplicaSet'), deletionTimestamp: new Date() }))).toBe('terminating');
  });

  it('reads the kube-proxy server from the embedded kubeconfig', () => {
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- cluster: {certificate-authority: /var/run/secrets/ca.crt, server: "https://10.200.20.241:443"}',
      '  name: default',
      'contexts:',
      '- context: {cluster: default, namespace: default, user: default}',
      '  name: default',
      'current-context: default',
    ].join('\n');
    expect(kubeProxyServerFromData({ 'config.conf': 'kind: KubeProxyConfiguration\nmode: ipvs\n', 'kubeconfig.conf': kubeconfig })).toBe(
      'https://10.200.20.241:443',
    );
    expect(kubeProxyServerFromData({ weird: 'not: [yaml\n    server: https://1.2.3.4:6443\n' })).toBe('https://1.2.3.4:6443');
    expect(kubeProxyServerFromData({ 'config.conf': 'mode: iptables\n' })).toBeUndefined();
  });

  it('replaces Endpoints addresses, keeps ports, and detects no-ops', () => {
    const cur = [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'https', port: 8686, protocol: 'TCP' }] }];
    expect(endpointsSubsets(cur, ['10.0.0.2', '10.0.0.1'])).toBeUndefined();
    expect(endpointsSubsets(cur, ['10.0.1.1'])).toEqual([{ addresses: [{ ip: '10.0.1.1' }], ports: [{ name: 'https', port: 8686, protocol: 'TCP' }] }]);
    expect(endpointsSubsets(cur, ['10.0.0.1', '10.0.0.2'], 6443)?.[0]?.ports).toEqual([{ name: 'https', port: 6443, protocol: 'TCP' }]);
    expect(endpointsSubsets(undefined, ['10.0.1.1'], 443)).toEqual([{ addresses: [{ ip: '10.0.1.1' }], ports: [{ port: 443, protocol: 'TCP' }] }]);
  });

  it('computes rollout progress like kubectl rollout status', () => {
    const d = (gen: number, status: NonNullable<V1Deployment['status']>): V1Deployment => ({
      metadata: { name: 'd', namespace: 'n', generation: gen },
      spec: { replicas: 2, selector: {}, template: {} },
      status,
    });
    expect(deploymentProgress(d(2, { observedGeneration: 1 })).done).toBe(false);
    expect(deploymentProgress(d(2, { observedGeneration: 2, updatedReplicas: 2, replicas: 3, availableReplicas: 2 })).message).toMatch(/old replicas pending/);
    expect(deploymentProgress(d(2, { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 })).done).toBe(true);
    expect(() =>
      deploymentProgress(d(2, { observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] })),
    ).toThrow(/progress deadline/);
    const ds = (s: Partial<NonNullable<V1DaemonSet['status']>>): V1DaemonSet => ({
      metadata: { name: 'ds', namespace: 'n', generation: 3 },
      status: { currentNumberScheduled: 3, desiredNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3, observedGeneration: 3, ...s },
    });
    expect(daemonSetProgress(ds({ updatedNumberScheduled: 2, numberAvailable: 3 })).done).toBe(false);
    expect(daemonSetProgress(ds({ updatedNumberScheduled: 3, numberAvailable: 3 })).done).toBe(true);
  });

  it('maps API failures: 401/403 and TLS trust → KubeAuthError, others name object and reason', () => {
    const e401 = toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), 'read Node m1', K);
    expect(e401).toBeInstanceOf(KubeAuthError);
    expect(e401.message).toMatch(/read Node m1: 401 Unauthorized .* kubeconfig \/x/);
    const forbidden = JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'nodes "m1" is forbidden: User "bob" cannot get resource "nodes"' });
    expect(toKubeError(new ApiException(403, 'x', forbidden, {}), 'read Node m1', K)).toBeInstanceOf(KubeAuthError);
    const tls = Object.assign(new Error('request failed, reason: self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(toKubeError(tls, 'read Node m1', K)).toBeInstanceOf(KubeAuthError);
    const pdb = JSON.stringify({
      kind: 'Status',
      reason: 'TooManyRequests',
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 1 healthy pods and has 1 currently' }] },
    });
    const e429 = toKubeError(new ApiException(429, 'x', pdb, {}), 'evict Pod n/p', K);
    expect(e429).toBeInstanceOf(KubeApiError);
    expect(e429.message).toBe("evict Pod n/p: 429 TooManyRequests: Cannot evict pod as it would violate the pod's disruption budget.");
    expect(pdbFromEvictionError(e429)).toBe('web-pdb');
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
    expect(toKubeError(refused, 'read Node m1', K)).toBeInstanceOf(KubeApiError);
  });
});

// ------------------------------------------------------------------ live

const unavailable = kubeControlPlaneUnavailable();
if (unavailable) console.warn(`[kube.test] SKIPPING live tests: ${unavailable}`);

async function waitUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const TOLERATE_ALL = [{ operator: 'Exists' }];
const podSpec = (extra: Partial<V1PodSpec> = {}): V1PodSpec => ({
  containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }],
  terminationGracePeriodSeconds: 30,
  ...extra,
});

describe.skipIf(Boolean(unavailable))('kube activities against a real kube-apiserver', () => {
  let cp: KubeControlPlane;
  let agent: NodeAgent;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let policy: PolicyV1Api;
  let plan: KubePlan;
  const acts = createKubeActivities({ pollMs: 250 });

  const podsOn = async (node: string, ns?: string): Promise<V1Pod[]> =>
    (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })).items.filter((p) => !ns || p.metadata?.namespace === ns);
  const ready = (p: V1Pod): boolean => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

  beforeAll(async () => {
    const t0 = Date.now();
    cp = await startKubeControlPlane({ ip: '127.0.3.1' });
    console.log(`[kube.test] control plane: etcd ${cp.timings.etcdMs} ms, apiserver /readyz ${cp.timings.apiserverReadyMs} ms, all ${cp.timings.totalMs} ms`);
    console.log(`[kube.test] kube-apiserver ${cp.apiserverArgs.join(' ')}`);
    core = cp.kc.makeApiClient(CoreV1Api);
    apps = cp.kc.makeApiClient(AppsV1Api);
    policy = cp.kc.makeApiClient(PolicyV1Api);
    agent = await startNodeAgent(cp.kc, {
      nodes: [
        { name: 'node-a' },
        { name: 'node-b', unschedulable: true },
        { name: 'node-c', labels: { keep: 'me' }, taints: [{ key: 'keep', value: 'me', effect: 'NoSchedule' }] },
      ],
      readyDelayMs: 1_000,
    });
    plan = {
      kubeconfig: cp.kubeconfigPath,
      nodes: {
        masterLabel: 'node-role.kubernetes.io/master=true',
        masterTaint: 'node-role.kubernetes.io/master=true:NoSchedule',
        isolationTaint: 'test-only=true:NoSchedule',
        drainTimeout: '2m',
      },
      calico: { namespace: 'calico-test', configMap: 'calico-config', restart: [] },
      monitoring: { namespace: 'monitoring', endpoints: 'kube-apiserver-exporter' },
    };
    for (const name of ['drain', 'calico-test', 'monitoring']) await core.createNamespace({ body: { metadata: { name } } });
    console.log(`[kube.test] setup (control plane + nodes) ${Date.now() - t0} ms`);
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.stop();
  });

  it('drains a node: PDB-protected pod waits for its replacement, DaemonSet pod stays, unmanaged needs force, re-run is a no-op', async () => {
    const ns = 'drain';
    const labels = (app: string) => ({ app });
    // node-b is cordoned, so everything lands on node-a first
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: { replicas: 2, selector: { matchLabels: labels('web') }, template: { metadata: { labels: labels('web') }, spec: podSpec() } },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'web-pdb' }, spec: { minAvailable: 1, selector: { matchLabels: labels('web') } } },
    });
    await apps.createNamespacedReplicaSet({
      namespace: ns,
      body: {
        metadata: { name: 'plain' },
        spec: { replicas: 2, selector: { matchLabels: labels('plain') }, template: { metadata: { labels: labels('plain') }, spec: podSpec() } },
      },
    });
    await apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'agent' },
        spec: { selector: { matchLabels: labels('agent') }, template: { metadata: { labels: labels('agent') }, spec: podSpec({ tolerations: TOLERATE_ALL }) } },
      },
    });
    await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'lonely' }, spec: podSpec({ nodeName: 'node-a' }) } });

    await waitUntil('6 ready pods on node-a', 60_000, async () => {
      const pods = await podsOn('node-a', ns);
      return pods.length === 6 && pods.every(ready);
    });
    await waitUntil('web-pdb to allow 1 disruption', 30_000, async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'web-pdb', namespace: ns });
      return pdb.status?.disruptionsAllowed === 1 && pdb.status.observedGeneration === pdb.metadata?.generation;
    });
    await core.patchNode({ name: 'node-b', body: { spec: { unschedulable: null } } }, mergePatch);

    // without force: the unmanaged pod is refused before anything is evicted
    const before = (await podsOn('node-a', ns)).map((p) => p.metadata?.uid).sort();
    const refused = await acts.drainNode(plan, 'node-a', { force: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnsafeOperationError);
    expect((refused as Error).message).toMatch(/drain\/lonely/);
    expect((await podsOn('node-a', ns)).map((p) => p.metadata?.uid).sort()).toEqual(before);
    expect((await core.readNode({ name: 'node-a' })).spec?.unschedulable).toBe(true);

    const t0 = Date.now();
    const out = await acts.drainNode(plan, 'node-a');
    const drainMs = Date.now() - t0;
    console.log(`[kube.test] drain node-a: ${drainMs} ms — ${out.summary}`);
    expect(out.changed).toBe(true);
    const evicted = out.details?.evicted as Array<{ pod: string; evictedAt: string; blocked: number; pdb?: string }>;
    expect(evicted.map((e) => e.pod.replace(/-[a-z0-9]+(-[a-z0-9]+)?$/, '')).sort()).toEqual([
      'drain/lonely',
      'drain/plain',
      'drain/plain',
      'drain/web',
      'drain/web',
    ]);
    expect(out.details?.keptDaemonSet).toHaveLength(1);
    const webs = evicted.filter((e) => e.pod.startsWith('drain/web-'));
    const blocked = webs.filter((e) => e.blocked > 0);
    expect(blocked).toHaveLength(1); // the second web pod met a 429 ...
    expect(blocked[0]?.pdb).toBe('web-pdb');
    const first = webs.find((e) => e.blocked === 0);
    const protectedAt = Date.parse(blocked[0]?.evictedAt ?? '');
    expect(protectedAt).toBeGreaterThan(Date.parse(first?.evictedAt ?? ''));
    // ... and was evicted only after a replacement web pod became Ready on node-b
    const replacementReady = agent.events.find((e) => e.kind === 'ready' && e.node === 'node-b' && e.pod.startsWith('drain/web-'));
    expect(replacementReady).toBeDefined();
    expect(protectedAt).toBeGreaterThanOrEqual(replacementReady?.at ?? Infinity);

    const left = await podsOn('node-a', ns);
    expect(left.map((p) => p.metadata?.ownerReferences?.[0]?.kind)).toEqual(['DaemonSet']);
    await waitUntil(
      'web back to 2 ready pods on node-b',
      30_000,
      async () => (await podsOn('node-b', ns)).filter((p) => p.metadata?.labels?.app === 'web' && ready(p)).length === 2,
    );

    const again = await acts.drainNode(plan, 'node-a');
    expect(again.changed).toBe(false);
    expect(again.details?.evicted).toEqual([]);
    expect(again.summary).toMatch(/nothing to evict/);

    // a PDB that can never allow the eviction: error at the deadline names the pod and the budget, nothing forced
    await policy.patchNamespacedPodDisruptionBudget({ name: 'web-pdb', namespace: ns, body: { spec: { minAvailable: 2 } } }, mergePatch);
    await waitUntil('web-pdb to allow no disruption', 30_000, async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'web-pdb', namespace: ns });
      return pdb.status?.observedGeneration === pdb.metadata?.generation && pdb.status?.disruptionsAllowed === 0 && pdb.status.currentHealthy === 2;
    });
    await acts.uncordonNode(plan, 'node-a');
    const stuck = await acts.drainNode(plan, 'node-b', { timeoutMs: 3_000 }).then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(stuck).toBeInstanceOf(Error);
    expect((stuck as Error).message).toMatch(/still blocked by a PodDisruptionBudget .*drain\/web-.*PDB web-pdb/);
    expect((await podsOn('node-b', ns)).filter((p) => p.metadata?.labels?.app === 'web' && !p.metadata.deletionTimestamp)).toHaveLength(2);
    expect((await acts.uncordonNode(plan, 'node-b')).changed).toBe(true);
  });

  it('labels and taints round-trip with kubectl semantics, other labels/taints preserved', async () => {
    const node = 'node-c';
    expect(await acts.nodeExists(plan, node)).toBe(true);
    expect(await acts.nodeExists(plan, 'no-such-node')).toBe(false);
    await expect(acts.labelNode(plan, 'no-such-node', ['a=b'])).rejects.toThrow(PlanMismatchError);

    expect((await acts.labelNode(plan, node, [plan.nodes.masterLabel])).changed).toBe(true);
    expect((await acts.labelNode(plan, node, [plan.nodes.masterLabel])).changed).toBe(false);
    expect((await acts.taintNode(plan, node, [plan.nodes.masterTaint, plan.nodes.isolationTaint])).changed).toBe(true);
    expect((await acts.taintNode(plan, node, [plan.nodes.masterTaint, plan.nodes.isolationTaint])).changed).toBe(false);
    let n = await core.readNode({ name: node });
    expect(n.metadata?.labels).toMatchObject({ keep: 'me', 'kubernetes.io/hostname': node, 'node-role.kubernetes.io/master': 'true' });
    expect(n.spec?.taints?.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`)).toEqual([
      'keep=me:NoSchedule',
      'node-role.kubernetes.io/master=true:NoSchedule',
      'test-only=true:NoSchedule',
    ]);

    expect((await acts.taintNode(plan, node, ['test-only=false:NoSchedule', 'extra:NoExecute'])).changed).toBe(true);
    expect((await acts.taintNode(plan, node, ['extra:NoExecute-'])).changed).toBe(true);
    n = await core.readNode({ name: node });
    expect(n.spec?.taints?.find((t) => t.key === 'test-only')?.value).toBe('false');
    expect(n.spec?.taints?.some((t) => t.key === 'extra')).toBe(false);

    expect((await acts.taintNode(plan, node, ['test-only-'])).changed).toBe(true);
    expect((await acts.taintNode(plan, node, ['test-only-'])).changed).toBe(false);
    expect((await acts.labelNode(plan, node, ['node-role.kubernetes.io/master-'])).changed).toBe(true);
    expect((await acts.labelNode(plan, node, ['node-role.kubernetes.io/master-'])).changed).toBe(false);
    n = await core.readNode({ name: node });
    expect(n.metadata?.labels?.['node-role.kubernetes.io/master']).toBeUndefined();
    expect(n.metadata?.labels?.keep).toBe('me');
    expect(n.spec?.taints?.map((t) => t.key)).toEqual(['keep', 'node-role.kubernetes.io/master']);

    expect((await acts.cordonNode(plan, node)).changed).toBe(true);
    expect((await acts.cordonNode(plan, node)).changed).toBe(false);
    expect((await acts.uncordonNode(plan, node)).changed).toBe(true);
    expect((await core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    await expect(acts.taintNode(plan, node, ['bad'])).rejects.toThrow(/invalid taint "bad"/);
  });

  it('patches only etcd_endpoints in calico-config and restarts calico workloads to completion', async () => {
    const ns = plan.calico.namespace;
    const data = {
      etcd_endpoints: 'http://10.200.20.11:2379,http://10.200.20.12:2379,http://10.200.20.13:2379',
      calico_backend: 'bird',
      veth_mtu: '1440',
      cni_network_config:
        '{\n  "name": "k8s-pod-network",\n\t"cniVersion": "0.3.1",   \n  "plugins": [ {"type": "calico", "etcd_endpoints": "__ETCD_ENDPOINTS__"} ]\n}\n\n',
      'odd_key.with-dots': '  leading and trailing spaces  ',
      unicode: 'čšž — ✓',
    };
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'calico-config' }, data } });
    const endpoints = ['http://10.200.20.101:2379', 'http://10.200.20.102:2379', 'http://10.200.20.103:2379'];
    const out = await acts.patchCalicoEtcdEndpoints(plan, endpoints);
    expect(out.changed).toBe(true);
    const cm = await core.readNamespacedConfigMap({ name: 'calico-config', namespace: ns });
    expect(cm.data).toEqual({ ...data, etcd_endpoints: endpoints.join(',') });
    for (const key of Object.keys(data).filter((k) => k !== 'etcd_endpoints'))
      expect(Buffer.from(cm.data?.[key] ?? '').equals(Buffer.from(data[key as keyof typeof data]))).toBe(true);
    const rv = cm.metadata?.resourceVersion;
    expect((await acts.patchCalicoEtcdEndpoints(plan, endpoints)).changed).toBe(false);
    expect((await core.readNamespacedConfigMap({ name: 'calico-config', namespace: ns })).metadata?.resourceVersion).toBe(rv);
    await expect(acts.patchCalicoEtcdEndpoints(plan, [])).rejects.toThrow(UnsafeOperationError);

    const sel = { 'k8s-app': 'calico-node' };
    await apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'calico-node' },
        spec: {
          selector: { matchLabels: sel },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
          template: { metadata: { labels: sel }, spec: podSpec({ tolerations: TOLERATE_ALL, hostNetwork: true }) },
        },
      },
    });
    const pc = { 'k8s-app': 'calico-policy-controller' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'calico-policy-controller' },
        spec: { replicas: 1, selector: { matchLabels: pc }, template: { metadata: { labels: pc }, spec: podSpec({ tolerations: TOLERATE_ALL }) } },
      },
    });
    const nodeCount = (await core.listNode()).items.length;
    const dsPods = async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: 'k8s-app=calico-node' })).items;
    const oldUids = await waitUntil('calico-node ready on every node', 60_000, async () => {
      const pods = await dsPods();
      return pods.length === nodeCount && pods.every(ready) ? pods.map((p) => p.metadata?.uid).sort() : undefined;
    });

    const token = '2026-11-20T10:00:00Z';
    const t0 = Date.now();
    const r = await acts.rolloutRestart(plan, 'DaemonSet', 'calico-node', token, { timeoutMs: 90_000 });
    console.log(`[kube.test] rollout restart DaemonSet: ${Date.now() - t0} ms — ${r.summary}`);
    expect(r.changed).toBe(true);
    const after = await dsPods();
    expect(after).toHaveLength(nodeCount);
    expect(after.every(ready)).toBe(true);
    for (const p of after) {
      expect(oldUids).not.toContain(p.metadata?.uid);
      expect(p.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(token);
    }
    const again = await acts.rolloutRestart(plan, 'DaemonSet', 'calico-node', token);
    expect(again.changed).toBe(false);
    expect((await dsPods()).map((p) => p.metadata?.uid).sort()).toEqual(after.map((p) => p.metadata?.uid).sort());

    const dep = await acts.rolloutRestart(plan, 'Deployment', 'calico-policy-controller', token, { timeoutMs: 60_000 });
    expect(dep.changed).toBe(true);
    expect(dep.summary).toMatch(/rolled out/);
    const d = await apps.readNamespacedDeployment({ name: 'calico-policy-controller', namespace: ns });
    expect(d.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBe(token);
    await expect(acts.rolloutRestart(plan, 'Deployment', 'nope', token)).rejects.toThrow(/Deployment calico-test\/nope does not exist/);
  });

  it('replaces exporter Endpoints, reads kube-proxy server, probes readyz, and maps bad kubeconfigs to KubeAuthError', async () => {
    const ns = plan.monitoring.namespace;
    await core.createNamespacedEndpoints({
      namespace: ns,
      body: {
        metadata: { name: 'kube-apiserver-exporter' },
        subsets: [
          { addresses: ['10.200.20.11', '10.200.20.12', '10.200.20.13'].map((ip) => ({ ip })), ports: [{ name: 'https', port: 8686, protocol: 'TCP' }] },
        ],
      },
    });
    const next = ['10.200.20.101', '10.200.20.102', '10.200.20.103'];
    expect((await acts.setExporterEndpoints(plan, next)).changed).toBe(true);
    let ep = await core.readNamespacedEndpoints({ name: 'kube-apiserver-exporter', namespace: ns });
    expect(ep.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual(next);
    expect(ep.subsets?.[0]?.ports).toEqual([{ name: 'https', port: 8686, protocol: 'TCP' }]);
    expect((await acts.setExporterEndpoints(plan, next)).changed).toBe(false);
    expect((await acts.setExporterEndpoints(plan, next, 6443)).changed).toBe(true);
    ep = await core.readNamespacedEndpoints({ name: 'kube-apiserver-exporter', namespace: ns });
    expect(ep.subsets?.[0]?.ports).toEqual([{ name: 'https', port: 6443, protocol: 'TCP' }]);

    await expect(acts.readKubeProxyServer(plan)).rejects.toThrow(PlanMismatchError);
    await core.createNamespacedConfigMap({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'kube-proxy' },
        data: {
          'config.conf':
            'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf\nmode: ipvs\n',
          'kubeconfig.conf':
            'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://10.200.20.241:443\n  name: default\n' +
            'contexts:\n- context:\n    cluster: default\n    namespace: default\n    user: default\n  name: default\ncurrent-context: default\n',
        },
      },
    });
    expect(await acts.readKubeProxyServer(plan)).toBe('https://10.200.20.241:443');

    const rz = await acts.apiserverReadyz(plan);
    expect(rz.ok).toBe(true);
    expect(rz.body).toMatch(/readyz check passed/);

    // a client certificate from a CA the cluster does not trust → 401
    const rogue = {
      ...plan,
      kubeconfig: cp.writeClientKubeconfig({ cn: 'admin', groups: ['system:masters'], rogue: true, file: path.join(cp.dir, 'rogue.conf') }),
    };
    const e401 = await acts.nodeExists(rogue, 'node-a').then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(e401).toBeInstanceOf(KubeAuthError);
    expect(e401.message).toMatch(/401 Unauthorized .*rogue\.conf/);
    await expect(acts.drainNode(rogue, 'node-a')).rejects.toThrow(KubeAuthError);
    // a valid user without permissions → 403
    const nobody = { ...plan, kubeconfig: cp.writeClientKubeconfig({ cn: 'nobody', file: path.join(cp.dir, 'nobody.conf') }) };
    const e403 = await acts.labelNode(nobody, 'node-a', ['x=y']).then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(e403).toBeInstanceOf(KubeAuthError);
    expect(e403.message).toMatch(/403 Forbidden.*User "nobody" cannot get resource "nodes"/);
    // a kubeconfig whose CA does not match the server's certificate → TLS failure, same error type
    const wrongCa = {
      ...plan,
      kubeconfig: cp.writeClientKubeconfig({
        cn: 'admin',
        groups: ['system:masters'],
        caCertPath: path.join(cp.dir, 'rogue-ca.crt'),
        file: path.join(cp.dir, 'wrong-ca.conf'),
      }),
    };
    const eTls = await acts.nodeExists(wrongCa, 'node-a').then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    );
    expect(eTls).toBeInstanceOf(KubeAuthError);
    expect(eTls.message).toMatch(/certificate-authority/);
    await expect(acts.apiserverReadyz(wrongCa)).rejects.toThrow(KubeAuthError);
    await expect(acts.nodeExists({ ...plan, kubeconfig: '/nonexistent/admin.conf' }, 'node-a')).rejects.toThrow(PlanMismatchError);
  });
});
