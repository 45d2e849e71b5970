/**
 * A change preflight proposes for a client of the apiserver that does not use
 * the LB (kubelet, kube-proxy) or its local apiserver (controller-manager,
 * scheduler on an old master). Preflight reports them; the client-fixes step
 * applies exactly these, once its checkpoint is approved. Pure: shared by the
 * activities, the workflow and the CLI.
 */
import type { Plan } from './schema';

interface FileFix {
  /** Node / host name */
  node: string;
  /** where it was reached over SSH */
  address: string;
  /** true: a host of the plan (its own ssh settings); false: a Node found through the API (defaults.ssh) */
  planHost: boolean;
  file: string;
  /** the server the file uses now, and the one it gets */
  from: string;
  to: string;
}

/** kubelet.conf on a node → the LB; then restart that kubelet and wait for its Node to be Ready. */
export interface KubeletFix extends FileFix {
  kind: 'kubelet';
}

/** controller-manager or scheduler kubeconfig on an old master → its local apiserver; then restart it. */
export interface ControlPlaneKubeconfigFix extends FileFix {
  kind: 'controlplane';
  component: 'controllerManager' | 'scheduler';
}

/** the kube-proxy ConfigMap's kubeconfig → the LB; then roll its DaemonSet. */
export interface KubeProxyFix {
  kind: 'kube-proxy';
  namespace: string;
  configMap: string;
  /** the ConfigMap key holding the kubeconfig */
  key: string;
  daemonSet: string;
  from: string;
  to: string;
}

export type ClientFix = KubeletFix | ControlPlaneKubeconfigFix | KubeProxyFix;

/** Stable id of a fix, e.g. kubelet/worker-2, controllerManager/oldmaster-1, kube-proxy/kube-system/kube-proxy. */
export function fixId(f: ClientFix): string {
  switch (f.kind) {
    case 'kubelet':
      return `kubelet/${f.node}`;
    case 'controlplane':
      return `${f.component}/${f.node}`;
    case 'kube-proxy':
      return `kube-proxy/${f.namespace}/${f.configMap}`;
  }
}

const COMPONENT = { controllerManager: 'kube-controller-manager', scheduler: 'kube-scheduler' } as const;

/** One line: what changes where, and what is restarted after. */
export function describeFix(f: ClientFix): string {
  switch (f.kind) {
    case 'kubelet':
      return `${f.node}: ${f.file} server ${f.from} → ${f.to} (atomic rewrite, backup kept), restart kubelet, wait until Node ${f.node} is Ready`;
    case 'controlplane':
      return `${f.node}: ${f.file} (${COMPONENT[f.component]}) server ${f.from} → ${f.to} (atomic rewrite, backup kept), restart ${COMPONENT[f.component]}`;
    case 'kube-proxy':
      return `ConfigMap ${f.namespace}/${f.configMap} (${f.key}) server ${f.from} → ${f.to}, rollout restart DaemonSet ${f.namespace}/${f.daemonSet}`;
  }
}

/** The order the step applies them: kube-proxy first (one API call), then kubelets one node at a time, then the old masters' components. */
export function orderFixes(fixes: readonly ClientFix[]): ClientFix[] {
  const rank = (f: ClientFix) => (f.kind === 'kube-proxy' ? 0 : f.kind === 'kubelet' ? 1 : 2);
  return [...fixes].sort((a, b) => rank(a) - rank(b) || fixId(a).localeCompare(fixId(b)));
}

/** The LB URL every kubelet and kube-proxy should use. */
export function lbURLOf(plan: Pick<Plan, 'loadBalancer'>): string {
  return `https://${plan.loadBalancer.vip}:${plan.loadBalancer.port}`;
}
