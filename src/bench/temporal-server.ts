/**
 * A Temporal dev server of the benchmark's own (scripts/dev-server.sh: the same
 * `temporal server start-dev`, SQLite-persisted, search attributes registered
 * as `npm run dev` has them), on a free loopback port, stopped by its pid file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort, stopTemporal } from '../chaos/temporal';

export interface BenchServer {
  address: string;
  stateDir: string;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'cpm-bench-temporal-'));
  const port = await freeLoopbackPort();
  const uiPort = await freeLoopbackPort();
  const r = spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'dev-server.sh'), 'start'], {
    env: { ...process.env, CPM_STATE_DIR: stateDir, TEMPORAL_PORT: String(port), TEMPORAL_UI_PORT: String(uiPort) },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`Temporal dev server did not start (scripts/dev-server.sh start): ${r.stderr || r.stdout}`);
  return { address: `127.0.0.1:${port}`, stateDir, stop: () => stopTemporal(port, stateDir) };
}
