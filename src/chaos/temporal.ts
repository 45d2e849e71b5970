/** A free loopback port for a scenario's own Temporal dev server, and stopping it by its pid file. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../lib/net';

export function freeLoopbackPort(): Promise<number> {
  return freePort('127.0.0.1');
}

export async function stopTemporal(port: number, stateDir: string): Promise<void> {
  spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'dev-server.sh'), 'stop'], {
    env: { ...process.env, TEMPORAL_PORT: String(port), CPM_STATE_DIR: stateDir },
  });
}
