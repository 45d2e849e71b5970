/**
 * The lab's stand-in for kubelets, as a long-running process started by
 * `lab up` (pid file, stopped by `lab down`): registers every lab host as a
 * Node, marks pods bound to them Running/Ready and completes their deletions.
 * Reaches the API through the VIP, like kubelets do. The logic is the test
 * node agent (src/lab/node-agent.ts, also used by test/kube.test.ts); this file only runs it.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { startNodeAgent } from './node-agent';
import { HOSTS, paths } from './layout';
import { standInKubelet } from './kubelet';

const MASTER_LABEL = { 'node-role.kubernetes.io/master': 'true' };

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  const agent = await startNodeAgent(kc, {
    nodes: HOSTS.map((h) => ({ name: h.name, address: h.address, labels: { 'cpm-lab/role': h.role, ...(h.role === 'old' ? MASTER_LABEL : {}) } })),
    intervalMs: 500,
    verbose: true,
    // each Node is as Ready as its host's stand-in kubelet says (src/lab/kubelet.ts)
    readiness: async (node) => {
      const k = await standInKubelet(node);
      if (!k) return { ready: false, token: 'down', message: 'lab kubelet stand-in is not running' };
      return {
        ready: k.ready,
        token: `${k.ready} ${k.server} ${k.pid}`,
        message: `lab kubelet stand-in pid ${k.pid}, server ${k.server}: ${k.ready ? 'ready' : 'not ready'}`,
      };
    },
  });
  process.stderr.write(`[node-agent] ${new Date().toISOString()} serving nodes ${agent.nodes.join(', ')}\n`);
  const stop = () => {
    void agent.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`[node-agent] ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
