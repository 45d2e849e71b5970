/**
 * A fleet on one worker: N migrations started together against one worker
 * process running the real workflow code with the recording activity doubles
 * (src/bench/fleet-worker.ts), on a real Temporal dev server of their own.
 *
 * Each migration runs to the switch-traffic checkpoint (so all N are in the
 * worker's cache at once: that is where memory per migration is read), then
 * all are approved together and run to the end. Measured: time to reach the
 * checkpoint, time from approval to the last completion, workflow task
 * latency p50/p99 over every task of every history (Scheduled → Completed),
 * the worker's RSS when ready, with all N parked, and at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { parse } from 'yaml';
import { planSchema, type Plan, type PlanInput } from '../plan/schema';
import { CpmCluster } from '../search-attributes';
import { approveSignal, TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor, type MigrationInput } from '../shared';
import { workflowTaskLatencies, type JsonHistory } from './history';
import { processCpuMs, processMemory } from './proc';
import { loadAverage, percentile } from './stats';
import { startBenchServer } from './temporal-server';

const ROOT = path.join(__dirname, '..', '..');

export interface FleetResult {
  migrations: number;
  completed: number;
  /** start of the first → all N waiting at switch-traffic */
  toCheckpointMs: number;
  /** approval of all → the last completion */
  afterApprovalMs: number;
  totalMs: number;
  workflowTasks: number;
  wftP50: number;
  wftP99: number;
  wftMax: number;
  /** p99 of the part spent queued (Scheduled → Started) */
  wftQueuedP99: number;
  rssStart: number;
  rssParked: number;
  rssEnd: number;
  rssPeak: number;
  /** (RSS with all N parked − RSS when ready) / N */
  bytesPerMigration: number;
  activitySlots: number;
  /** worker CPU time (user + system) from the first start to the last completion, per workflow task: load-independent */
  cpuMsPerWorkflowTask: number;
  loadBefore: string;
  loadAfter: string;
  /** set when the fleet did not finish within its deadline */
  stalled?: string;
}

export interface FleetOptions {
  /** duration of every activity double (default 0: the worst case for the workflow side) */
  activityMs?: number;
  /** give up (and report it) after this long in one phase */
  phaseDeadlineMs?: number;
  log?: (line: string) => void;
}

/** The shipped example plan with only the switch-traffic checkpoint on, for cluster `name`. */
export function fleetPlan(name: string): Plan {
  const input = parse(readFileSync(path.join(ROOT, 'examples', 'plan.yaml'), 'utf8')) as PlanInput;
  const off = { enabled: false, remindAfter: '30m' };
  return planSchema.parse({
    ...input,
    cluster: name,
    checkpoints: { 'preflight-ack': off, 'switch-traffic': { enabled: true, remindAfter: '30m' }, decommission: off },
    timeouts: { quick: '2m', long: '60m', heartbeat: '30s', maxAttempts: 5 },
  });
}

interface FleetWorker {
  proc: ChildProcess;
  pid: number;
  activitySlots: number;
  stop(): Promise<void>;
}

async function startWorker(address: string, activityMs: number): Promise<FleetWorker> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fleet-worker.ts')], {
    cwd: ROOT,
    env: { ...process.env, CPM_BENCH_ADDRESS: address, CPM_BENCH_ACTIVITY_MS: String(activityMs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const ready = await new Promise<{ pid: number; maxConcurrentActivityTaskExecutions: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fleet worker not ready within 300 s: ${stderr}`)), 300_000);
    proc.once('exit', (code) => reject(new Error(`fleet worker exited (${code}) before it was ready: ${stderr}`)));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{"bench":"ready"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { pid: number; maxConcurrentActivityTaskExecutions: number });
    });
  });
  return {
    proc,
    pid: ready.pid,
    activitySlots: ready.maxConcurrentActivityTaskExecutions,
    async stop() {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function until(
  what: string,
  deadlineMs: number,
  check: () => Promise<boolean>,
  sample: () => void,
  failed: () => Promise<string | undefined>,
): Promise<string | undefined> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    sample();
    if (await check()) return undefined;
    const why = await failed();
    if (why) return `${what}: ${why}`;
    await sleep(250);
  }
  return `${what}: not reached within ${Math.round(deadlineMs / 1000)} s`;
}

export async function runFleet(n: number, opts: FleetOptions = {}): Promise<FleetResult> {
  const log = opts.log ?? (() => undefined);
  const deadline = opts.phaseDeadlineMs ?? 15 * 60_000;
  const loadBefore = loadAverage();
  const server = await startBenchServer();
  let worker: FleetWorker | undefined;
  let connection: Connection | undefined;
  try {
    worker = await startWorker(server.address, opts.activityMs ?? 0);
    const w = worker;
    await sleep(1_000);
    const rssStart = processMemory(w.pid)?.rss ?? Number.NaN;
    const cpuStart = processCpuMs(w.pid) ?? Number.NaN;
    let rssPeak = rssStart;
    const sample = () => {
      const m = processMemory(w.pid);
      if (m) rssPeak = Math.max(rssPeak, m.rss, m.peak);
    };
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    const clusters = Array.from({ length: n }, (_, i) => `fleet-${String(i + 1).padStart(3, '0')}`);
    log(`fleet ${n}: starting ${n} migrations (worker pid ${w.pid}, ${w.activitySlots} activity slots; load ${loadBefore})`);
    const t0 = Date.now();
    const handles = await Promise.all(
      clusters.map((c) =>
        client.workflow.start(WORKFLOW_TYPE, {
          taskQueue: TASK_QUEUE,
          workflowId: workflowIdFor(c),
          args: [{ plan: fleetPlan(c), features: { searchAttributes: true } } satisfies MigrationInput],
          typedSearchAttributes: [{ key: CpmCluster, value: c }],
        }),
      ),
    );
    const failed = async () => {
      const k = (await client.workflow.count(`ExecutionStatus = 'Failed'`)).count;
      if (!k) return undefined;
      for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Failed'` })) {
        const d = await client.workflow
          .getHandle(wf.workflowId)
          .result()
          .catch((e: Error & { cause?: Error }) => e.cause?.message ?? e.message);
        return `${k} migration(s) failed, e.g. ${wf.workflowId}: ${String(d).slice(0, 300)}`;
      }
      return `${k} migration(s) failed`;
    };
    const parked = async () => (await client.workflow.count(`CpmPendingGate = 'switch-traffic'`)).count >= n;
    let stalled = await until(`all ${n} at switch-traffic`, deadline, parked, sample, failed);
    const tParked = Date.now();
    const rssParked = processMemory(w.pid)?.rss ?? Number.NaN;
    sample();
    log(`fleet ${n}: ${stalled ?? `all at switch-traffic after ${tParked - t0} ms`}; RSS ${Math.round(rssParked / 1048576)} MiB`);
    let tDone = tParked;
    let completed = 0;
    if (!stalled) {
      await Promise.all(handles.map((h) => h.signal(approveSignal, { gate: 'switch-traffic', by: 'bench', reason: 'fleet benchmark' })));
      const done = async () => (await client.workflow.count(`ExecutionStatus = 'Completed'`)).count >= n;
      stalled = await until(`all ${n} completed`, deadline, done, sample, failed);
      tDone = Date.now();
    }
    const cpuUsed = (processCpuMs(w.pid) ?? Number.NaN) - cpuStart;
    completed = (await client.workflow.count(`ExecutionStatus = 'Completed'`)).count;
    await sleep(1_000);
    const rssEnd = processMemory(w.pid)?.rss ?? Number.NaN;
    sample();
    const latencies = [];
    for (const h of handles) {
      const history = JSON.parse(historyToJSON(await h.fetchHistory())) as JsonHistory;
      latencies.push(...workflowTaskLatencies(history));
    }
    const totals = latencies.map((l) => l.total);
    return {
      migrations: n,
      completed,
      toCheckpointMs: tParked - t0,
      afterApprovalMs: tDone - tParked,
      totalMs: tDone - t0,
      workflowTasks: latencies.length,
      wftP50: percentile(totals, 50),
      wftP99: percentile(totals, 99),
      wftMax: percentile(totals, 100),
      wftQueuedP99: percentile(
        latencies.map((l) => l.queued),
        99,
      ),
      rssStart,
      rssParked,
      rssEnd,
      rssPeak,
      bytesPerMigration: (rssParked - rssStart) / n,
      activitySlots: w.activitySlots,
      cpuMsPerWorkflowTask: cpuUsed / Math.max(1, latencies.length),
      loadBefore,
      loadAfter: loadAverage(),
      ...(stalled ? { stalled } : {}),
    };
  } finally {
    await worker?.stop();
    await connection?.close().catch(() => undefined);
    await server.stop();
  }
}
