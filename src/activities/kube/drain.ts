/**
 * `kubectl drain`: cordon → list the Node's pods → evict them (bounded
 * concurrency; a PodDisruptionBudget's 429 waits with backoff, never forced)
 * → wait until every evicted or terminating pod is gone. Idempotent: a
 * drained Node is a no-op that says so. DaemonSet and mirror pods stay;
 * unmanaged pods are deleted only with force (the runbook's --force).
 */
import type { V1Eviction, V1Pod } from '@kubernetes/client-node';
import { UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import {
  classifyForDrain,
  isConflict,
  isNotFound,
  kubeCall,
  KubeApiError,
  pdbFromEvictionError,
  podRef,
  type DrainClass,
  type KubeClients,
} from '../../lib/kube';
import { sleepUnlessCancelled as sleep } from '../../lib/sleep';
import { waitTimer, type WaitTimer } from '../../lib/waits';
import { durationMs, formatMs } from '../../plan/duration';
import { activityLog, beat } from '../../lib/heartbeat';
import type { StepOutcome } from '../types';
import { setUnschedulable, type KubeContext, type KubePlan } from './context';

export interface DrainOptions {
  /** default: plan.nodes.drainTimeout */
  timeoutMs?: number;
  /** evictions in flight at once; default 5 */
  concurrency?: number;
  /** like `kubectl drain --force`: also delete pods no controller owns; default true (the runbook uses --force) */
  force?: boolean;
}

const EVICTION_BACKOFF_START_MS = 500;
const EVICTION_BACKOFF_MAX_MS = 5_000;

interface EvictionRecord {
  pod: string;
  uid: string;
  attempts: number;
  /** 429 answers seen */
  blocked: number;
  pdb?: string;
  lastMessage?: string;
  evictedAt?: string;
  /** still blocked at the deadline */
  stuck?: boolean;
  alreadyGone?: boolean;
}

type PodsByClass = Record<DrainClass, V1Pod[]>;

interface Drain {
  k: KubeClients;
  node: string;
  deadline: number;
  timeoutMs: number;
  records: EvictionRecord[];
  /** pods that must be gone before the node counts as drained (uid → namespace/name) */
  waitFor: Map<string, { ns: string; name: string }>;
}

async function podsByClass(k: KubeClients, node: string): Promise<PodsByClass> {
  const list = await kubeCall(k, `list Pods on Node ${node}`, () => k.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }));
  const byClass: PodsByClass = { evict: [], daemonSet: [], mirror: [], unmanaged: [], terminating: [] };
  for (const p of list.items) byClass[classifyForDrain(p)].push(p);
  return byClass;
}

function refuseUnmanaged(node: string, unmanaged: V1Pod[]): never {
  const names = unmanaged.map(podRef);
  throw new UnsafeOperationError(
    `drain ${node}: ${names.length} pod(s) are not managed by a controller and would be lost: ${names.join(', ')}; ` +
      `nothing was evicted (the node is cordoned). Move them, or drain with force (kubectl drain --force)`,
    names,
  );
}

function progressOf(d: Drain): Record<string, unknown> {
  return {
    node: d.node,
    podsLeft: d.waitFor.size,
    evicting: d.records.filter((r) => !r.evictedAt && !r.alreadyGone).length,
    blocked: d.records.filter((r) => r.blocked > 0 && !r.evictedAt).map((r) => `${r.pod} (PDB ${r.pdb ?? '?'})`),
  };
}

/** Evict one pod; a 429 (PodDisruptionBudget) is retried with backoff until the deadline, then marked stuck. */
async function evictOne(d: Drain, p: V1Pod, rec: EvictionRecord, timer: WaitTimer): Promise<void> {
  const ns = p.metadata?.namespace ?? 'default';
  const name = p.metadata?.name ?? '';
  const body: V1Eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns }, deleteOptions: { preconditions: { uid: rec.uid } } };
  let backoff = EVICTION_BACKOFF_START_MS;
  for (;;) {
    rec.attempts++;
    timer.check();
    try {
      await kubeCall(d.k, `evict Pod ${ns}/${name} from ${d.node}`, () => d.k.core.createNamespacedPodEviction({ name, namespace: ns, body }));
      rec.evictedAt = new Date().toISOString();
      failpoint('kube.drain.after-eviction', d.node);
      activityLog().info('evicted pod', { pod: rec.pod, node: d.node, blocked: rec.blocked });
      return;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) {
        // gone already, or replaced by a pod with another uid: nothing to evict
        rec.alreadyGone = true;
        return;
      }
      if (!(err instanceof KubeApiError && err.code === 429)) throw err;
      timer.notYet();
      rec.blocked++;
      rec.pdb = pdbFromEvictionError(err) ?? rec.pdb;
      rec.lastMessage = err.apiMessage;
      if (Date.now() + backoff > d.deadline) {
        rec.stuck = true;
        return;
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, EVICTION_BACKOFF_MAX_MS);
    }
  }
}

/** Evict every pod with at most `concurrency` in flight; throws naming the PDBs if any is still blocked. */
async function evictAll(d: Drain, pods: V1Pod[], concurrency: number): Promise<void> {
  const queue = pods.map((p, i) => ({ p, rec: d.records[i] as EvictionRecord }));
  const timer = waitTimer(`evictions from ${d.node} (PodDisruptionBudgets)`);
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await evictOne(d, item.p, item.rec, timer);
  });
  await Promise.all(workers);
  timer.done();
  const stuck = d.records.filter((r) => r.stuck);
  if (stuck.length) {
    throw new Error(
      `drain ${d.node}: ${stuck.length} pod(s) still blocked by a PodDisruptionBudget after ${formatMs(d.timeoutMs)}: ` +
        stuck.map((r) => `${r.pod} (PDB ${r.pdb ?? 'unknown'}: ${r.lastMessage ?? 'eviction refused'})`).join('; ') +
        `. Not forced; make room for the pods elsewhere or relax the budget, then retry`,
    );
  }
}

/** Wait until every evicted (or already terminating) pod is really gone. */
async function awaitPodsGone(d: Drain, pollMs: number): Promise<void> {
  const timer = waitTimer(`evicted pods gone from ${d.node}`);
  for (;;) {
    timer.check();
    for (const [uid, ref] of [...d.waitFor]) {
      try {
        const p = await kubeCall(d.k, `read Pod ${ref.ns}/${ref.name}`, () => d.k.core.readNamespacedPod({ name: ref.name, namespace: ref.ns }));
        if (p.metadata?.uid !== uid) d.waitFor.delete(uid);
      } catch (err) {
        if (isNotFound(err)) d.waitFor.delete(uid);
        else throw err;
      }
    }
    beat(progressOf(d));
    if (d.waitFor.size === 0) return timer.done();
    timer.notYet();
    if (Date.now() > d.deadline) {
      throw new Error(
        `drain ${d.node}: ${d.waitFor.size} evicted pod(s) not yet deleted after ${formatMs(d.timeoutMs)}: ` +
          [...d.waitFor.values()].map((r) => `${r.ns}/${r.name}`).join(', ') +
          ` (still terminating: is the kubelet on ${d.node} running?)`,
      );
    }
    await sleep(pollMs);
  }
}

function drainOutcome(d: Drain, byClass: PodsByClass, cordoned: boolean, started: number): StepOutcome {
  const { node, records } = d;
  const evicted = records.filter((r) => r.evictedAt);
  const waited = evicted.filter((r) => r.blocked > 0);
  const kept = byClass.daemonSet.length + byClass.mirror.length;
  const summary =
    evicted.length === 0 && byClass.terminating.length === 0
      ? `${node} drained: nothing to evict${cordoned ? ' (cordoned)' : ''}${kept ? `, ${kept} DaemonSet/mirror pod(s) stay` : ''}`
      : `${node} drained in ${formatMs(Date.now() - started)}: evicted ${evicted.length} pod(s)` +
        (waited.length ? ` (${waited.length} waited for a PodDisruptionBudget: ${waited.map((r) => `${r.pod} by ${r.pdb ?? '?'}`).join(', ')})` : '') +
        (kept ? `, ${kept} DaemonSet/mirror pod(s) stay` : '');
  return {
    summary,
    changed: cordoned || evicted.length > 0,
    details: {
      node,
      cordoned,
      evicted: evicted.map((r) => ({ pod: r.pod, evictedAt: r.evictedAt, blocked: r.blocked, pdb: r.pdb })),
      unmanagedDeleted: byClass.unmanaged.map(podRef),
      keptDaemonSet: byClass.daemonSet.map(podRef),
      keptMirror: byClass.mirror.map(podRef),
      awaitedTerminating: byClass.terminating.map(podRef),
      durationMs: Date.now() - started,
    },
  };
}

export function drainActivities(ctx: KubeContext) {
  async function drainNode(plan: KubePlan, node: string, opts: DrainOptions = {}): Promise<StepOutcome> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? durationMs(plan.nodes.drainTimeout);
    const k = ctx.clients(plan);

    const cordoned = await setUnschedulable(k, node, true);
    failpoint('kube.drain.after-cordon', node);
    const byClass = await podsByClass(k, node);
    if (byClass.unmanaged.length && !(opts.force ?? true)) refuseUnmanaged(node, byClass.unmanaged);

    const toEvict = [...byClass.evict, ...byClass.unmanaged];
    const d: Drain = {
      k,
      node,
      deadline: started + timeoutMs,
      timeoutMs,
      records: toEvict.map((p) => ({ pod: podRef(p), uid: p.metadata?.uid ?? '', attempts: 0, blocked: 0 })),
      waitFor: new Map(
        [...toEvict, ...byClass.terminating].map((p) => [
          p.metadata?.uid ?? podRef(p),
          { ns: p.metadata?.namespace ?? 'default', name: p.metadata?.name ?? '' },
        ]),
      ),
    };
    const heartbeat = setInterval(() => beat(progressOf(d)), 2_000);
    try {
      beat(progressOf(d));
      await evictAll(d, toEvict, Math.max(1, opts.concurrency ?? 5));
      await awaitPodsGone(d, ctx.pollMs);
    } finally {
      clearInterval(heartbeat);
    }
    return drainOutcome(d, byClass, cordoned, started);
  }

  return { drainNode };
}
