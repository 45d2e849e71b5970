/**
 * The runbook's first step, broken on purpose: a worker the plan does not list
 * (worker-2) has its kubelet.conf pointing straight at oldmaster-1's apiserver,
 * and so does the kube-proxy ConfigMap. Preflight must find both (worker-2 only
 * through the API) and the client-fixes step must fix both; the stand-in
 * kubelet is restarted here so it really uses the old master.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { kubeProxyKubeconfig } from './cluster';
import { APISERVER_PORT, hostsOf, labHost, paths } from './layout';
import { kubeconfig } from './pki';
import { mustSvc } from './svc';

export interface Misconfigured {
  /** the node whose kubelet points at an old master */
  node: string;
  /** the old master's apiserver URL both now use */
  server: string;
}

export async function misconfigureClients(): Promise<Misconfigured> {
  const old = hostsOf('old')[0];
  if (!old) throw new Error('the lab has no old master');
  const server = `https://${old.address}:${APISERVER_PORT}`;
  const h = labHost('worker-2');
  await writeFile(join(paths.etcOf(h.name), 'kubernetes', 'kubelet.conf'), await kubeconfig(server, `system:node:${h.name}`, `kubelet-${h.name}`), {
    mode: 0o600,
  });
  await mustSvc(h, 'restart', 'kubelet');
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  await kc
    .makeApiClient(CoreV1Api)
    .patchNamespacedConfigMap(
      { name: 'kube-proxy', namespace: 'kube-system', body: { data: { 'kubeconfig.conf': kubeProxyKubeconfig(server) } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  return { node: h.name, server };
}
