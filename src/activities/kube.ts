/**
 * Kubernetes activities (@kubernetes/client-node 1.4): node cordon/drain/
 * label/taint, the kube-proxy server probe, calico-config, rollout restarts,
 * the exporter Endpoints and apiserver /readyz.
 *
 * Every activity is idempotent (re-running finds nothing to do and says so),
 * heartbeats while it waits, and names the object and the API's reason when it
 * fails. 401/403 (and TLS trust failures) become KubeAuthError, non-retryable.
 */
import { failpoint } from '../lib/failpoint';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig, V1DaemonSet, V1Deployment, V1Eviction, V1Pod } from '@kubernetes/client-node';
import type { Plan } from '../plan/schema';
import { durationMs, formatMs } from '../plan/duration';
import { PlanMismatchError, UnsafeOperationError } from '../errors';
import {
  applyTaintChanges,
  classifyForDrain,
  daemonSetProgress,
  deploymentProgress,
  endpointsSubsets,
  formatTaint,
  isConflict,
  isNotFound,
  kubeCall,
  kubeClients,
  KubeApiError,
  kubeProxyServerFromData,
  labelPatch,
  loadKubeConfigFile,
  mergePatch,
  parseLabelChange,
  parseTaintChange,
  pdbFromEvictionError,
  podRef,
  sameTaints,
  statusError,
  toKubeError,
  type KubeClients,
  type RolloutProgress,
} from '../lib/kube';
import { sleepUnlessCancelled as sleep } from '../lib/sleep';
import { activityLog, beat } from './heartbeat';
import type { StepOutcome } from './types';

/** The parts of the plan these activities read. */
export type KubePlan = Pick<Plan, 'kubeconfig' | 'nodes' | 'calico' | 'monitoring'>;

export interface KubeActivityDeps {
  /** how to get a KubeConfig for a plan; default: load plan.kubeconfig from the file */
  kubeConfig?: (plan: KubePlan) => KubeConfig;
  /** poll interval while waiting (tests shorten it); default 1000 ms */
  pollMs?: number;
}

export interface DrainOptions {
  /** default: plan.nodes.drainTimeout */
  timeoutMs?: number;
  /** evictions in flight at once; default 5 */
  concurrency?: number;
  /** like `kubectl drain --force`: also delete pods no controller owns; default true (the runbook uses --force) */
  force?: boolean;
}

export interface RolloutOptions {
  /** default 10 minutes */
  timeoutMs?: number;
  /** default plan.calico.namespace */
  namespace?: string;
}

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const DEFAULT_ROLLOUT_TIMEOUT_MS = 10 * 60_000;
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

export function createKubeActivities(deps: KubeActivityDeps = {}) {
  const pollMs = deps.pollMs ?? 1000;

  function clients(plan: KubePlan): KubeClients {
    const kc = deps.kubeConfig ? deps.kubeConfig(plan) : loadKubeConfigFile(plan.kubeconfig);
    return kubeClients(kc, deps.kubeConfig ? 'the kubeconfig' : `kubeconfig ${plan.kubeconfig}`);
  }

  async function readNodeOrFail(k: KubeClients, node: string) {
    try {
      return await kubeCall(k, `read Node ${node}`, () => k.core.readNode({ name: node }));
    } catch (err) {
      if (isNotFound(err)) throw new PlanMismatchError(`Node ${node} does not exist in the cluster at ${k.server} (check the host names in the plan)`);
      throw err;
    }
  }

  async function setUnschedulable(k: KubeClients, node: string, unschedulable: boolean): Promise<boolean> {
    const n = await readNodeOrFail(k, node);
    if (Boolean(n.spec?.unschedulable) === unschedulable) return false;
    await kubeCall(k, `${unschedulable ? 'cordon' : 'uncordon'} Node ${node}`, () =>
      k.core.patchNode({ name: node, body: { spec: { unschedulable: unschedulable ? true : null } } }, mergePatch),
    );
    return true;
  }

  async function cordonNode(plan: KubePlan, node: string): Promise<StepOutcome> {
    const changed = await setUnschedulable(clients(plan), node, true);
    return { summary: changed ? `cordoned ${node}` : `${node} was already cordoned`, changed };
  }

  async function uncordonNode(plan: KubePlan, node: string): Promise<StepOutcome> {
    const changed = await setUnschedulable(clients(plan), node, false);
    failpoint('kube.uncordon.after-patch', node);
    return { summary: changed ? `uncordoned ${node}` : `${node} was already schedulable`, changed };
  }

  async function podsOnNode(k: KubeClients, node: string): Promise<V1Pod[]> {
    const list = await kubeCall(k, `list Pods on Node ${node}`, () =>
      k.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }),
    );
    return list.items;
  }

  async function drainNode(plan: KubePlan, node: string, opts: DrainOptions = {}): Promise<StepOutcome> {
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? durationMs(plan.nodes.drainTimeout);
    const deadline = started + timeoutMs;
    const concurrency = Math.max(1, opts.concurrency ?? 5);
    const force = opts.force ?? true;
    const log = activityLog();
    const k = clients(plan);

    const cordoned = await setUnschedulable(k, node, true);
    failpoint('kube.drain.after-cordon', node);
    const pods = await podsOnNode(k, node);
    const byClass = { evict: [] as V1Pod[], daemonSet: [] as V1Pod[], mirror: [] as V1Pod[], unmanaged: [] as V1Pod[], terminating: [] as V1Pod[] };
    for (const p of pods) byClass[classifyForDrain(p)].push(p);

    if (byClass.unmanaged.length && !force) {
      const names = byClass.unmanaged.map(podRef);
      throw new UnsafeOperationError(
        `drain ${node}: ${names.length} pod(s) are not managed by a controller and would be lost: ${names.join(', ')}; ` +
          `nothing was evicted (the node is cordoned). Move them, or drain with force (kubectl drain --force)`,
        names,
      );
    }
    const toEvict = [...byClass.evict, ...byClass.unmanaged];
    const records: EvictionRecord[] = toEvict.map((p) => ({ pod: podRef(p), uid: p.metadata?.uid ?? '', attempts: 0, blocked: 0 }));
    // pods that must be gone before the node counts as drained (uid → namespace/name)
    const waitFor = new Map<string, { ns: string; name: string }>();
    for (const p of [...toEvict, ...byClass.terminating]) {
      waitFor.set(p.metadata?.uid ?? podRef(p), { ns: p.metadata?.namespace ?? 'default', name: p.metadata?.name ?? '' });
    }

    const progress = (): Record<string, unknown> => ({
      node,
      podsLeft: waitFor.size,
      evicting: records.filter((r) => !r.evictedAt && !r.alreadyGone).length,
      blocked: records.filter((r) => r.blocked > 0 && !r.evictedAt).map((r) => `${r.pod} (PDB ${r.pdb ?? '?'})`),
    });
    const heartbeat = setInterval(() => beat(progress()), 2_000);
    try {
      beat(progress());
      // Evict with bounded concurrency; a 429 (PodDisruptionBudget) is retried with backoff, never forced.
      const queue = toEvict.map((p, i) => ({ p, rec: records[i] as EvictionRecord }));
      const evictOne = async (p: V1Pod, rec: EvictionRecord): Promise<void> => {
        const ns = p.metadata?.namespace ?? 'default';
        const name = p.metadata?.name ?? '';
        const body: V1Eviction = {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace: ns },
          deleteOptions: { preconditions: { uid: rec.uid } },
        };
        let backoff = EVICTION_BACKOFF_START_MS;
        for (;;) {
          rec.attempts++;
          try {
            await kubeCall(k, `evict Pod ${ns}/${name} from ${node}`, () => k.core.createNamespacedPodEviction({ name, namespace: ns, body }));
            rec.evictedAt = new Date().toISOString();
            failpoint('kube.drain.after-eviction', node);
            log.info('evicted pod', { pod: rec.pod, node, blocked: rec.blocked });
            return;
          } catch (err) {
            if (isNotFound(err) || isConflict(err)) {
              // gone already, or replaced by a pod with another uid: nothing to evict
              rec.alreadyGone = true;
              return;
            }
            if (err instanceof KubeApiError && err.code === 429) {
              rec.blocked++;
              rec.pdb = pdbFromEvictionError(err) ?? rec.pdb;
              rec.lastMessage = err.apiMessage;
              if (Date.now() + backoff > deadline) {
                rec.stuck = true;
                return;
              }
              await sleep(backoff);
              backoff = Math.min(backoff * 2, EVICTION_BACKOFF_MAX_MS);
              continue;
            }
            throw err;
          }
        }
      };
      const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let item = queue.shift(); item; item = queue.shift()) await evictOne(item.p, item.rec);
      });
      await Promise.all(workers);

      const stuck = records.filter((r) => r.stuck);
      if (stuck.length) {
        throw new Error(
          `drain ${node}: ${stuck.length} pod(s) still blocked by a PodDisruptionBudget after ${formatMs(timeoutMs)}: ` +
            stuck.map((r) => `${r.pod} (PDB ${r.pdb ?? 'unknown'}: ${r.lastMessage ?? 'eviction refused'})`).join('; ') +
            `. Not forced; make room for the pods elsewhere or relax the budget, then retry`,
        );
      }

      // Wait until every evicted (or already terminating) pod is really gone.
      for (;;) {
        for (const [uid, ref] of [...waitFor]) {
          try {
            const p = await kubeCall(k, `read Pod ${ref.ns}/${ref.name}`, () => k.core.readNamespacedPod({ name: ref.name, namespace: ref.ns }));
            if (p.metadata?.uid !== uid) waitFor.delete(uid);
          } catch (err) {
            if (isNotFound(err)) waitFor.delete(uid);
            else throw err;
          }
        }
        beat(progress());
        if (waitFor.size === 0) break;
        if (Date.now() > deadline) {
          throw new Error(
            `drain ${node}: ${waitFor.size} evicted pod(s) not yet deleted after ${formatMs(timeoutMs)}: ` +
              [...waitFor.values()].map((r) => `${r.ns}/${r.name}`).join(', ') +
              ` (still terminating: is the kubelet on ${node} running?)`,
          );
        }
        await sleep(pollMs);
      }
    } finally {
      clearInterval(heartbeat);
    }

    const evicted = records.filter((r) => r.evictedAt);
    const waited = evicted.filter((r) => r.blocked > 0);
    const kept = byClass.daemonSet.length + byClass.mirror.length;
    const changed = cordoned || evicted.length > 0;
    const summary =
      evicted.length === 0 && byClass.terminating.length === 0
        ? `${node} drained: nothing to evict${cordoned ? ' (cordoned)' : ''}${kept ? `, ${kept} DaemonSet/mirror pod(s) stay` : ''}`
        : `${node} drained in ${formatMs(Date.now() - started)}: evicted ${evicted.length} pod(s)` +
          (waited.length ? ` (${waited.length} waited for a PodDisruptionBudget: ${waited.map((r) => `${r.pod} by ${r.pdb ?? '?'}`).join(', ')})` : '') +
          (kept ? `, ${kept} DaemonSet/mirror pod(s) stay` : '');
    return {
      summary,
      changed,
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

  async function labelNode(plan: KubePlan, node: string, changes: string[]): Promise<StepOutcome> {
    const parsed = changes.map(parseLabelChange);
    const k = clients(plan);
    const n = await readNodeOrFail(k, node);
    const patch = labelPatch(n.metadata?.labels, parsed);
    if (!patch) return { summary: `${node}: labels already ${changes.join(' ')}`, changed: false };
    await kubeCall(k, `label Node ${node}`, () => k.core.patchNode({ name: node, body: { metadata: { labels: patch } } }, mergePatch));
    failpoint('kube.label.after-patch', node);
    return { summary: `${node}: labeled ${changes.join(' ')}`, changed: true, details: { patch } };
  }

  async function taintNode(plan: KubePlan, node: string, changes: string[]): Promise<StepOutcome> {
    const parsed = changes.map(parseTaintChange);
    const k = clients(plan);
    // taints are a list: read-modify-write guarded by resourceVersion, retried on conflict
    for (let attempt = 1; ; attempt++) {
      const n = await readNodeOrFail(k, node);
      const current = n.spec?.taints ?? [];
      const next = applyTaintChanges(current, parsed);
      if (sameTaints(current, next)) return { summary: `${node}: taints already ${changes.join(' ')}`, changed: false };
      try {
        await kubeCall(k, `taint Node ${node}`, () =>
          k.core.patchNode(
            { name: node, body: { metadata: { resourceVersion: n.metadata?.resourceVersion }, spec: { taints: next.length ? next : null } } },
            mergePatch,
          ),
        );
        failpoint('kube.taint.after-patch', node);
        return { summary: `${node}: tainted ${changes.join(' ')}`, changed: true, details: { taints: next.map(formatTaint) } };
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  async function readKubeProxyServer(plan: KubePlan): Promise<string> {
    const k = clients(plan);
    let cm;
    try {
      cm = await kubeCall(k, 'read ConfigMap kube-system/kube-proxy', () => k.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' }));
    } catch (err) {
      if (isNotFound(err)) throw new PlanMismatchError(`ConfigMap kube-system/kube-proxy does not exist at ${k.server} (is kube-proxy configured another way?)`);
      throw err;
    }
    const server = kubeProxyServerFromData(cm.data);
    if (!server) throw new PlanMismatchError(`ConfigMap kube-system/kube-proxy has no server URL in kubeconfig.conf or any other key`);
    return server;
  }

  async function patchCalicoEtcdEndpoints(plan: KubePlan, endpoints: string[]): Promise<StepOutcome> {
    if (endpoints.length === 0) throw new UnsafeOperationError('refusing to write an empty etcd_endpoints to calico-config');
    const { namespace, configMap } = plan.calico;
    const ref = `ConfigMap ${namespace}/${configMap}`;
    const value = endpoints.join(',');
    const k = clients(plan);
    let cm;
    try {
      cm = await kubeCall(k, `read ${ref}`, () => k.core.readNamespacedConfigMap({ name: configMap, namespace }));
    } catch (err) {
      if (isNotFound(err)) throw new PlanMismatchError(`${ref} does not exist (plan.calico.configMap)`);
      throw err;
    }
    const before = cm.data?.etcd_endpoints;
    if (before === value) return { summary: `${ref}: etcd_endpoints already ${value}`, changed: false };
    await kubeCall(k, `patch ${ref} etcd_endpoints`, () =>
      k.core.patchNamespacedConfigMap({ name: configMap, namespace, body: { data: { etcd_endpoints: value } } }, mergePatch),
    );
    failpoint('calico.after-patch');
    return { summary: `${ref}: etcd_endpoints ${before ?? '(unset)'} → ${value}`, changed: true, details: { before, after: value } };
  }

  async function readWorkload(k: KubeClients, kind: 'DaemonSet' | 'Deployment', name: string, namespace: string): Promise<V1DaemonSet | V1Deployment> {
    const ref = `${kind} ${namespace}/${name}`;
    try {
      if (kind === 'DaemonSet') return await kubeCall(k, `read ${ref}`, () => k.apps.readNamespacedDaemonSet({ name, namespace }));
      return await kubeCall(k, `read ${ref}`, () => k.apps.readNamespacedDeployment({ name, namespace }));
    } catch (err) {
      if (isNotFound(err)) throw new PlanMismatchError(`${ref} does not exist (plan.calico.restart)`);
      throw err;
    }
  }

  /**
   * `kubectl rollout restart` + `rollout status`. `token` is the restartedAt
   * value: the workflow passes a fixed one so a retried activity does not
   * restart twice (the annotation already equal → only wait).
   */
  async function rolloutRestart(
    plan: KubePlan,
    kind: 'DaemonSet' | 'Deployment',
    name: string,
    token: string,
    opts: RolloutOptions = {},
  ): Promise<StepOutcome> {
    const namespace = opts.namespace ?? plan.calico.namespace;
    const ref = `${kind} ${namespace}/${name}`;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
    const started = Date.now();
    const k = clients(plan);
    const obj = await readWorkload(k, kind, name, namespace);
    if (kind === 'DaemonSet') {
      const strategy = (obj as V1DaemonSet).spec?.updateStrategy?.type ?? 'RollingUpdate';
      if (strategy !== 'RollingUpdate') {
        throw new PlanMismatchError(`${ref} uses updateStrategy ${strategy}: a restart would not replace its pods; switch it to RollingUpdate or restart its pods by hand`);
      }
    }
    const already = obj.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] === token;
    if (!already) {
      const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: token } } } } };
      await kubeCall(k, `restart ${ref}`, async (): Promise<unknown> =>
        kind === 'DaemonSet'
          ? k.apps.patchNamespacedDaemonSet({ name, namespace, body }, mergePatch)
          : k.apps.patchNamespacedDeployment({ name, namespace, body }, mergePatch),
      );
      failpoint('calico.rollout.after-restart-request', `${kind}/${name}`);
    }
    let progress: RolloutProgress;
    for (;;) {
      const cur = await readWorkload(k, kind, name, namespace);
      progress = kind === 'DaemonSet' ? daemonSetProgress(cur as V1DaemonSet) : deploymentProgress(cur as V1Deployment);
      beat({ workload: ref, desired: progress.desired, updated: progress.updated, ready: progress.ready, available: progress.available });
      if (progress.done) break;
      if (Date.now() - started > timeoutMs) throw new Error(`${ref}: rollout not finished after ${formatMs(timeoutMs)}: ${progress.message}`);
      await sleep(pollMs);
    }
    return {
      summary: `${already ? `${ref} already restarted (${token}); ` : `restarted ${ref}; `}${progress.message} in ${formatMs(Date.now() - started)}`,
      changed: !already,
      details: { restartedAt: token, desired: progress.desired, updated: progress.updated, available: progress.available },
    };
  }

  async function setExporterEndpoints(plan: KubePlan, addresses: string[], port?: number): Promise<StepOutcome> {
    if (addresses.length === 0) throw new UnsafeOperationError('refusing to empty the exporter Endpoints');
    const { namespace, endpoints: name } = plan.monitoring;
    const ref = `Endpoints ${namespace}/${name}`;
    const k = clients(plan);
    for (let attempt = 1; ; attempt++) {
      let ep;
      try {
        ep = await kubeCall(k, `read ${ref}`, () => k.core.readNamespacedEndpoints({ name, namespace }));
      } catch (err) {
        if (isNotFound(err)) throw new PlanMismatchError(`${ref} does not exist (plan.monitoring)`);
        throw err;
      }
      const subsets = endpointsSubsets(ep.subsets, addresses, port);
      if (!subsets) return { summary: `${ref} already points at ${addresses.join(', ')}`, changed: false };
      try {
        await kubeCall(k, `update ${ref}`, () =>
          k.core.patchNamespacedEndpoints({ name, namespace, body: { metadata: { resourceVersion: ep.metadata?.resourceVersion }, subsets } }, mergePatch),
        );
        failpoint('monitoring.after-endpoints');
        const before = (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
        return { summary: `${ref}: ${before.join(', ') || '(none)'} → ${addresses.join(', ')}`, changed: true, details: { before, after: addresses } };
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  async function nodeExists(plan: KubePlan, node: string): Promise<boolean> {
    const k = clients(plan);
    try {
      await kubeCall(k, `read Node ${node}`, () => k.core.readNode({ name: node }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** GET /readyz?verbose. Not ready → {ok:false}; bad credentials → KubeAuthError. */
  async function apiserverReadyz(plan: KubePlan): Promise<{ ok: boolean; body: string }> {
    const k = clients(plan);
    const url = new URL('/readyz?verbose', k.server);
    const options: RequestOptions = { method: 'GET', timeout: 10_000 };
    await k.kc.applyToHTTPSOptions(options);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, options, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        r.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 10s')));
      req.on('error', reject);
      req.end();
    }).catch((err: unknown) => {
      const mapped = toKubeError(err, `GET ${url.pathname} on ${k.server}`, k);
      if (mapped.name === 'KubeAuthError') throw mapped;
      return { status: 0, body: mapped.message };
    });
    if (res.status === 401 || res.status === 403) throw statusError(res.status, res.body, `GET /readyz on ${k.server}`, k);
    return { ok: res.status === 200, body: res.body };
  }

  return {
    cordonNode,
    uncordonNode,
    drainNode,
    labelNode,
    taintNode,
    readKubeProxyServer,
    patchCalicoEtcdEndpoints,
    rolloutRestart,
    setExporterEndpoints,
    nodeExists,
    apiserverReadyz,
  };
}

export type KubeActivities = ReturnType<typeof createKubeActivities>;
