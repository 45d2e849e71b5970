/**
 * Kubernetes calls for the clients of the apiserver: list Nodes (preflight
 * checks every kubelet), read and patch the kube-proxy ConfigMap's kubeconfig,
 * and a Node's Ready condition (a restarted kubelet must bring it back).
 * Reads are probes; the one write (the ConfigMap patch) is guarded by
 * resourceVersion and idempotent.
 */
import type { KubeConfig, V1Node } from '@kubernetes/client-node';
import { PlanMismatchError } from '../errors';
import { isConflict, isNotFound, kubeCall, kubeClients, loadKubeConfigFile, mergePatch, type KubeClients } from '../lib/kube';
import { kubeconfigServer, rewriteKubeconfigServer } from '../lib/kubeconfig-server';
import type { Plan } from '../plan/schema';
import type { ListedNode } from './preflight-clients';

export type ClientsPlan = Pick<Plan, 'kubeconfig' | 'clients'>;

export interface KubeClientsDeps {
  kubeConfig?: (plan: ClientsPlan) => KubeConfig;
}

/** A Node's Ready condition, as the kubelet last reported it. */
export interface NodeReadiness {
  ready: boolean;
  /** lastHeartbeatTime of the Ready condition (ISO), '' when none */
  heartbeat: string;
  reason?: string;
  message?: string;
}

export function nodeReadiness(n: V1Node): NodeReadiness {
  const c = n.status?.conditions?.find((x) => x.type === 'Ready');
  const hb = c?.lastHeartbeatTime as Date | string | undefined;
  return {
    ready: c?.status === 'True',
    heartbeat: hb ? new Date(hb).toISOString() : '',
    ...(c?.reason ? { reason: c.reason } : {}),
    ...(c?.message ? { message: c.message } : {}),
  };
}

export function createKubeClientActivities(deps: KubeClientsDeps = {}) {
  function clients(plan: ClientsPlan): KubeClients {
    const kc = deps.kubeConfig ? deps.kubeConfig(plan) : loadKubeConfigFile(plan.kubeconfig);
    return kubeClients(kc, deps.kubeConfig ? 'the kubeconfig' : `kubeconfig ${plan.kubeconfig}`);
  }

  async function listNodes(plan: ClientsPlan): Promise<ListedNode[]> {
    const k = clients(plan);
    const out: ListedNode[] = [];
    let _continue: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const list = await kubeCall(k, 'list Nodes', () => k.core.listNode({ limit: 500, ...(_continue ? { _continue } : {}) }));
      for (const n of list.items) {
        const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
        out.push({ name: n.metadata?.name ?? '', ...(ip ? { internalIP: ip } : {}) });
      }
      _continue = list.metadata?._continue;
      if (!_continue) break;
    }
    return out.filter((n) => n.name);
  }

  async function readConfigMap(k: KubeClients, plan: ClientsPlan) {
    const { namespace, configMap } = plan.clients.kubeProxy;
    try {
      return await kubeCall(k, `read ConfigMap ${namespace}/${configMap}`, () => k.core.readNamespacedConfigMap({ name: configMap, namespace }));
    } catch (err) {
      if (isNotFound(err))
        throw new PlanMismatchError(
          `ConfigMap ${namespace}/${configMap} does not exist at ${k.server} (plan.clients.kubeProxy; is kube-proxy configured another way?)`,
        );
      throw err;
    }
  }

  /** The key of the kube-proxy ConfigMap that holds its kubeconfig (kubeadm: kubeconfig.conf), and its server. */
  async function readKubeProxyKubeconfig(plan: ClientsPlan): Promise<{ key: string; server: string }> {
    const cm = await readConfigMap(clients(plan), plan);
    const data = cm.data ?? {};
    const keys = ['kubeconfig.conf', ...Object.keys(data).filter((x) => x !== 'kubeconfig.conf')];
    for (const key of keys) {
      const server = data[key] === undefined ? undefined : kubeconfigServer(data[key]);
      if (server && /^https?:\/\//.test(server)) return { key, server };
    }
    const { namespace, configMap } = plan.clients.kubeProxy;
    throw new PlanMismatchError(`ConfigMap ${namespace}/${configMap} has no kubeconfig with a server URL in any key`);
  }

  /**
   * Point the kube-proxy ConfigMap's kubeconfig (`key`) from `from` to `to`.
   * Already `to`: no change. Returns the text before (for the compensation).
   */
  async function patchKubeProxyServer(plan: ClientsPlan, key: string, from: string, to: string): Promise<{ changed: boolean; before?: string }> {
    const k = clients(plan);
    const { namespace, configMap } = plan.clients.kubeProxy;
    for (let attempt = 1; ; attempt++) {
      const cm = await readConfigMap(k, plan);
      const text = cm.data?.[key];
      if (text === undefined) throw new PlanMismatchError(`ConfigMap ${namespace}/${configMap} has no key ${key}`);
      const r = rewriteKubeconfigServer(text, from, to);
      if (!r.changed) return { changed: false };
      try {
        await kubeCall(k, `patch ConfigMap ${namespace}/${configMap}`, () =>
          k.core.patchNamespacedConfigMap(
            { name: configMap, namespace, body: { metadata: { resourceVersion: cm.metadata?.resourceVersion }, data: { [key]: r.text } } },
            mergePatch,
          ),
        );
        return { changed: true, before: text };
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  async function readNodeReadiness(plan: ClientsPlan, node: string): Promise<NodeReadiness> {
    const k = clients(plan);
    try {
      return nodeReadiness(await kubeCall(k, `read Node ${node}`, () => k.core.readNode({ name: node })));
    } catch (err) {
      if (isNotFound(err)) throw new PlanMismatchError(`Node ${node} does not exist at ${k.server}`);
      throw err;
    }
  }

  return { listNodes, readKubeProxyKubeconfig, patchKubeProxyServer, readNodeReadiness };
}

export type KubeClientActivities = ReturnType<typeof createKubeClientActivities>;
