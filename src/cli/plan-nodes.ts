/** `plan show --live`: how many Nodes preflight will check the kubelet kubeconfig of (read-only: one list call). */
import { createKubeClientActivities } from '../activities/kube-clients';
import type { Plan } from '../plan/schema';

export interface KubeletNodeCount {
  /** hosts of the plan (masters and workerNodes) */
  planHosts: number;
  /** other Nodes the API lists (reached at their InternalIP with defaults.ssh) */
  apiNodes: number;
  /** Nodes without an InternalIP: will be unverified */
  withoutAddress: string[];
  summary: string;
  error?: string;
}

export async function countKubeletNodes(plan: Plan): Promise<KubeletNodeCount> {
  const listed = new Set([...plan.oldMasters, ...plan.newMasters, ...plan.workerNodes].map((h) => h.name));
  const planHosts = listed.size;
  if (plan.clients.nodes === 'plan') return { planHosts, apiNodes: 0, withoutAddress: [], summary: `${planHosts} hosts of the plan (clients.nodes: plan)` };
  try {
    const nodes = (await createKubeClientActivities().listNodes(plan)).filter((n) => !listed.has(n.name));
    const withoutAddress = nodes.filter((n) => !n.internalIP).map((n) => n.name);
    const apiNodes = nodes.length - withoutAddress.length;
    return {
      planHosts,
      apiNodes,
      withoutAddress,
      summary: `${planHosts + apiNodes} nodes: ${planHosts} from the plan + ${apiNodes} other Node(s) from the API${withoutAddress.length ? `; ${withoutAddress.length} without an InternalIP (unverified): ${withoutAddress.join(', ')}` : ''}`,
    };
  } catch (e) {
    const error = (e as Error).message.split('\n')[0] ?? '';
    return { planHosts, apiNodes: 0, withoutAddress: [], summary: `${planHosts} from the plan; the Nodes could not be listed (${error})`, error };
  }
}
