/** What every Kubernetes activity shares: the clients for a plan, the poll interval, reading a Node and (un)cordoning it. */
import type { KubeConfig } from '@kubernetes/client-node';
import { PlanMismatchError } from '../../errors';
import { kubeCall, kubeClients, isNotFound, loadKubeConfigFile, mergePatch, type KubeClients } from '../../lib/kube';
import type { Plan } from '../../plan/schema';

/** The parts of the plan these activities read. */
export type KubePlan = Pick<Plan, 'kubeconfig' | 'nodes' | 'calico' | 'monitoring'>;

export interface KubeActivityDeps {
  /** how to get a KubeConfig for a plan; default: load plan.kubeconfig from the file */
  kubeConfig?: (plan: KubePlan) => KubeConfig;
  /** poll interval while waiting (tests shorten it); default 1000 ms */
  pollMs?: number;
}

export interface KubeContext {
  pollMs: number;
  clients(plan: KubePlan): KubeClients;
}

export function kubeContext(deps: KubeActivityDeps): KubeContext {
  return {
    pollMs: deps.pollMs ?? 1000,
    clients(plan) {
      const kc = deps.kubeConfig ? deps.kubeConfig(plan) : loadKubeConfigFile(plan.kubeconfig);
      return kubeClients(kc, deps.kubeConfig ? 'the kubeconfig' : `kubeconfig ${plan.kubeconfig}`);
    },
  };
}

export async function readNodeOrFail(k: KubeClients, node: string) {
  try {
    return await kubeCall(k, `read Node ${node}`, () => k.core.readNode({ name: node }));
  } catch (err) {
    if (isNotFound(err)) throw new PlanMismatchError(`Node ${node} does not exist in the cluster at ${k.server} (check the host names in the plan)`);
    throw err;
  }
}

/** Cordon (true) or uncordon (false); false when the Node already was. */
export async function setUnschedulable(k: KubeClients, node: string, unschedulable: boolean): Promise<boolean> {
  const n = await readNodeOrFail(k, node);
  if (Boolean(n.spec?.unschedulable) === unschedulable) return false;
  await kubeCall(k, `${unschedulable ? 'cordon' : 'uncordon'} Node ${node}`, () =>
    k.core.patchNode({ name: node, body: { spec: { unschedulable: unschedulable ? true : null } } }, mergePatch),
  );
  return true;
}
