/**
 * The lab's stand-in for kubelets, as a long-running process started by
 * `lab up` (pid file, stopped by `lab down`): registers every lab host as a
 * Node, marks pods bound to them Running/Ready and completes their deletions.
 * Reaches the API through the VIP, like kubelets do. The logic is the test
 * node agent (test/support/node-agent.ts); this file only runs it.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { startNodeAgent } from '../../test/support/node-agent';
import { HOSTS, paths } from './layout';

const MASTER_LABEL = { 'node-role.kubernetes.io/master': 'true' };

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  const agent = await startNodeAgent(kc, {
    nodes: HOSTS.map((h) => ({ name: h.name, address: h.address, labels: { 'cpm-lab/role': h.role, ...(h.role === 'old' ? MASTER_LABEL : {}) } })),
    intervalMs: 500,
    verbose: true,
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
