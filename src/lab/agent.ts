/** Starts and stops the lab's node agent process (src/lab/node-agent-main.ts) by pid file. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { HOSTS, paths } from './layout';
import { livePid, waitFor } from './exec';
import { sleep } from '../lib/sleep';

const REPO = join(__dirname, '..', '..');

export const agentPid = (): number | undefined => livePid(paths.agentPid);

export async function agentUp(): Promise<void> {
  if (agentPid()) return;
  const log = openSync(paths.agentLog, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'lab', 'node-agent-main.ts')], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  await writeFile(paths.agentPid, `${child.pid}\n`);
  const kc = new KubeConfig();
  kc.loadFromFile(paths.adminKubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  await waitFor(
    `the node agent to register ${HOSTS.length} Ready nodes (log: ${paths.agentLog})`,
    60_000,
    async () => {
      if (!agentPid()) throw new Error('node agent exited');
      const nodes = await core.listNode({});
      const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= HOSTS.length ? true : undefined;
    },
    500,
  );
}

export async function agentDown(): Promise<void> {
  const pid = agentPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && agentPid(); i++) await sleep(100);
    if (agentPid()) process.kill(pid, 'SIGKILL');
  }
  await rm(paths.agentPid, { force: true });
}
