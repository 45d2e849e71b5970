/**
 * Workload activities: the kube-proxy server probe, calico-config's
 * etcd_endpoints, rollout restarts (`kubectl rollout restart` + `rollout
 * status`) and the exporter Endpoints.
 */
import type { V1DaemonSet, V1Deployment } from '@kubernetes/client-node';
import { PlanMismatchError, UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import {
  daemonSetProgress,
  deploymentProgress,
  endpointsSubsets,
  isConflict,
  isNotFound,
  kubeCall,
  kubeProxyServerFromData,
  mergePatch,
  type KubeClients,
  type RolloutProgress,
} from '../../lib/kube';
import { sleepUnlessCancelled as sleep } from '../../lib/sleep';
import { formatMs } from '../../plan/duration';
import { beat } from '../../lib/heartbeat';
import type { StepOutcome } from '../types';
import type { KubeContext, KubePlan } from './context';

export interface RolloutOptions {
  /** default 10 minutes */
  timeoutMs?: number;
  /** default plan.calico.namespace */
  namespace?: string;
}

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const DEFAULT_ROLLOUT_TIMEOUT_MS = 10 * 60_000;

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

export function workloadActivities(ctx: KubeContext) {
  async function readKubeProxyServer(plan: KubePlan): Promise<string> {
    const k = ctx.clients(plan);
    let cm;
    try {
      cm = await kubeCall(k, 'read ConfigMap kube-system/kube-proxy', () => k.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' }));
    } catch (err) {
      if (isNotFound(err))
        throw new PlanMismatchError(`ConfigMap kube-system/kube-proxy does not exist at ${k.server} (is kube-proxy configured another way?)`);
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
    const k = ctx.clients(plan);
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
    const k = ctx.clients(plan);
    const obj = await readWorkload(k, kind, name, namespace);
    if (kind === 'DaemonSet') {
      const strategy = (obj as V1DaemonSet).spec?.updateStrategy?.type ?? 'RollingUpdate';
      if (strategy !== 'RollingUpdate') {
        throw new PlanMismatchError(
          `${ref} uses updateStrategy ${strategy}: a restart would not replace its pods; switch it to RollingUpdate or restart its pods by hand`,
        );
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
      await sleep(ctx.pollMs);
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
    const k = ctx.clients(plan);
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

  return { readKubeProxyServer, patchCalicoEtcdEndpoints, rolloutRestart, setExporterEndpoints };
}
