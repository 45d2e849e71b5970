/** Loading a kubeconfig (the worker policy checks its server) and the typed clients. */
import { expandHome } from '../paths';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, PolicyV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { PlanMismatchError } from '../../errors';
import { checkApiServer, enforce } from '../policy';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
  /** server URL of the current context, for messages */
  server: string;
  /** where the kubeconfig came from, for the auth hint */
  source: string;
}

/** Load a kubeconfig file. A missing or unreadable file is a plan problem, not a transient one. */
export function loadKubeConfigFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(expandHome(path));
  } catch (err) {
    throw new PlanMismatchError(`cannot load kubeconfig ${path}: ${(err as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new PlanMismatchError(`kubeconfig ${path} has no current context/cluster`);
  // the worker policy: the admin credentials only go to allowed API addresses
  enforce((p) => checkApiServer(p, cluster.server, `kubeconfig ${path} server`));
  return kc;
}

export function kubeClients(kc: KubeConfig, source = 'the kubeconfig'): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
    server: kc.getCurrentCluster()?.server ?? '(no server)',
    source,
  };
}

/** Options that make client-node send a JSON merge patch (its default is JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
