/**
 * Kubernetes activities (@kubernetes/client-node 1.4), one concern a file:
 *   nodes.ts      cordon, uncordon, label, taint, exists
 *   drain.ts      drain a Node (evictions with PDB backoff)
 *   workloads.ts  kube-proxy server, calico-config, rollout restarts, exporter Endpoints
 *   apiserver.ts  /readyz with the kubeconfig's credentials
 * Every activity is idempotent (re-running finds nothing to do and says so),
 * heartbeats while it waits, and names the object and the API's reason when it
 * fails. 401/403 (and TLS trust failures) become KubeAuthError, non-retryable.
 */
import { apiserverActivities } from './apiserver';
import { kubeContext, type KubeActivityDeps } from './context';
import { drainActivities } from './drain';
import { nodeActivities } from './nodes';
import { workloadActivities } from './workloads';

export type { KubeActivityDeps, KubePlan } from './context';
export type { DrainOptions } from './drain';
export { RESTARTED_AT_ANNOTATION, type RolloutOptions } from './workloads';

export function createKubeActivities(deps: KubeActivityDeps = {}) {
  const ctx = kubeContext(deps);
  const nodes = nodeActivities(ctx);
  const workloads = workloadActivities(ctx);
  return {
    cordonNode: nodes.cordonNode,
    uncordonNode: nodes.uncordonNode,
    drainNode: drainActivities(ctx).drainNode,
    labelNode: nodes.labelNode,
    taintNode: nodes.taintNode,
    readKubeProxyServer: workloads.readKubeProxyServer,
    patchCalicoEtcdEndpoints: workloads.patchCalicoEtcdEndpoints,
    rolloutRestart: workloads.rolloutRestart,
    setExporterEndpoints: workloads.setExporterEndpoints,
    nodeExists: nodes.nodeExists,
    apiserverReadyz: apiserverActivities(ctx).apiserverReadyz,
  };
}

export type KubeActivities = ReturnType<typeof createKubeActivities>;
