/**
 * Drain side by side, on the lab (root, under the lab lock, the lab up): the
 * same node, the same 200 pods (10 Deployments × 20 replicas, each with a
 * PodDisruptionBudget of maxUnavailable 5), the same apiserver, one run:
 * `kubectl drain --ignore-daemonsets --force` (kubectl built from the
 * k8s.io/kubernetes module by scripts/build-kube.sh, like the apiserver)
 * against cpmigrate's drainNode activity. Between the two the pods are put
 * back on the node. Replacements land on the other nodes; the lab's node agent
 * stands in for the kubelets (pods Running, deletions completed).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, PolicyV1Api, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { createKubeActivities } from '../activities/kube';
import { kubeBinDirFor } from '../lab/daemons';
import { paths } from '../lab/layout';
import { loadPlan } from '../plan/load';
import { loadAverage } from './stats';
import { sleep } from '../lib/sleep';

const NS = 'cpm-drain-bench';
const DEPLOYMENTS = 10;
const REPLICAS = 20;
const MAX_UNAVAILABLE = 5;
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface DrainRun {
  tool: 'kubectl drain' | 'cpmigrate drainNode';
  ms: number;
  pods: number;
  detail: string;
  load: string;
}

export interface DrainBench {
  node: string;
  pods: number;
  runs: DrainRun[];
  kubectl: string;
}

function clients() {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), policy: kc.makeApiClient(PolicyV1Api) };
}
type Clients = ReturnType<typeof clients>;

const ready = (p: V1Pod) =>
  p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function benchPods(k: Clients): Promise<V1Pod[]> {
  return (await k.core.listNamespacedPod({ namespace: NS })).items;
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(500);
  }
  throw new Error(`drain bench: ${what} not reached within ${ms / 1000} s`);
}

async function setCordon(k: Clients, node: string, on: boolean): Promise<void> {
  await k.core.patchNode({ name: node, body: { spec: { unschedulable: on ? true : null } } }, merge);
}

/** All 200 pods Ready on `node` and every budget allowing its 5 disruptions: the other nodes cordoned meanwhile. */
async function placeOn(k: Clients, node: string, others: string[]): Promise<void> {
  for (const n of others) await setCordon(k, n, true);
  try {
    await setCordon(k, node, false);
    for (const p of await benchPods(k))
      if (p.spec?.nodeName !== node)
        await k.core.deleteNamespacedPod({ name: p.metadata?.name ?? '', namespace: NS, gracePeriodSeconds: 0 }).catch(() => undefined);
    await until(`${DEPLOYMENTS * REPLICAS} pods Ready on ${node}`, 10 * 60_000, async () => {
      const pods = await benchPods(k);
      return pods.length === DEPLOYMENTS * REPLICAS && pods.every((p) => p.spec?.nodeName === node && ready(p));
    });
    await until('every PodDisruptionBudget allowing its disruptions', 5 * 60_000, async () => {
      const pdbs = (await k.policy.listNamespacedPodDisruptionBudget({ namespace: NS })).items;
      return pdbs.length === DEPLOYMENTS && pdbs.every((b) => b.status?.currentHealthy === REPLICAS && b.status?.disruptionsAllowed === MAX_UNAVAILABLE);
    });
  } finally {
    for (const n of others) await setCordon(k, n, false);
  }
}

async function createWorkload(k: Clients, node: string): Promise<void> {
  await k.core.createNamespace({ body: { metadata: { name: NS } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  // the node agent registers 110 pods of capacity; the target takes all 200 (until its kubelet changes)
  await k.core.patchNodeStatus({ name: node, body: { status: { capacity: { pods: '300' }, allocatable: { pods: '300' } } } }, merge);
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const app = `drain-bench-${i}`;
    await k.apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: app },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels: { app } },
            spec: { tolerations: [{ operator: 'Exists' }], terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'registry.invalid/none:0' }] },
          },
        },
      },
    });
    await k.policy.createNamespacedPodDisruptionBudget({
      namespace: NS,
      body: { metadata: { name: app }, spec: { maxUnavailable: MAX_UNAVAILABLE, selector: { matchLabels: { app } } } },
    });
  }
}

function runKubectl(kubectl: string, node: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(
      kubectl,
      ['--kubeconfig', paths.adminKubeconfig, 'drain', node, '--ignore-daemonsets', '--force', '--delete-emptydir-data', '--timeout=15m'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => resolve({ code, out }));
  });
}

export async function runDrainBench(log: (l: string) => void, node = 'worker-1'): Promise<DrainBench> {
  const kubectl = path.join(kubeBinDirFor(), 'kubectl');
  if (!existsSync(kubectl)) throw new Error(`${kubectl} is missing: run scripts/build-kube.sh (it builds kubectl beside the apiserver)`);
  const k = clients();
  const plan = await loadPlan(paths.plan);
  const nodes = (await k.core.listNode({})).items;
  const others = nodes.map((n) => n.metadata?.name ?? '').filter((n) => n && n !== node && !nodes.find((x) => x.metadata?.name === n)?.spec?.unschedulable);
  const kube = createKubeActivities();
  const runs: DrainRun[] = [];
  try {
    await createWorkload(k, node);
    const tools: Array<DrainRun['tool']> = ['kubectl drain', 'cpmigrate drainNode'];
    for (const tool of tools) {
      log(`drain: placing ${DEPLOYMENTS * REPLICAS} pods on ${node}`);
      await placeOn(k, node, others);
      const load = loadAverage();
      log(`drain: ${tool} ${node} (load ${load})`);
      const t0 = Date.now();
      let detail: string;
      if (tool === 'kubectl drain') {
        const r = await runKubectl(kubectl, node);
        if (r.code !== 0) throw new Error(`kubectl drain exited ${r.code}: ${r.out.slice(-2000)}`);
        const blocked = (r.out.match(/violate the pod's disruption budget/g) ?? []).length;
        detail = `${blocked} eviction(s) refused by a PDB (kubectl retries each after 5 s)`;
      } else {
        detail = (await kube.drainNode(plan, node)).summary;
      }
      const ms = Date.now() - t0;
      runs.push({ tool, ms, pods: DEPLOYMENTS * REPLICAS, detail, load });
      log(`drain: ${tool}: ${(ms / 1000).toFixed(1)} s: ${detail}`);
      await setCordon(k, node, false);
    }
  } finally {
    await k.core.deleteNamespace({ name: NS }).catch(() => undefined);
    await setCordon(k, node, false).catch(() => undefined);
  }
  return { node, pods: DEPLOYMENTS * REPLICAS, runs, kubectl };
}
