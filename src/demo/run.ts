/**
 * The one-command demo: Temporal dev server (started or reused), a worker
 * process, the lab in its "before" state, the migration with progress and
 * checkpoints (approved by you, or by --yes), an availability probe through
 * the VIP, and a verification of the runbook's "after" state at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { searchAttributesRegistered } from '../cli/connect';
import { sshHostOps } from '../lib/ssh';
import { formatMs } from '../plan/duration';
import { loadPlan } from '../plan/load';
import type { Plan } from '../plan/schema';
import { CpmCluster } from '../search-attributes';
import { TASK_QUEUE, WORKFLOW_TYPE, abortSignal, approveUpdate, statusQuery, workflowIdFor, type MigrationStatus, type StepRecord } from '../shared';
import { labDown, labUp } from '../lab/cli';
import { AvailabilityProbe, vipClient, type ProbeReport } from './probe';
import { SafetyMonitor, renderMonitor, type MonitorReport } from './monitor';
import { verifyAfterState, verifyBeforeState, type Check } from './verify';

const ROOT = path.join(__dirname, '..', '..');

export interface DemoOptions {
  /** approve every checkpoint automatically */
  yes: boolean;
  temporalPort: number;
  stateDir: string;
  /** kill -9 the worker once, right after this step completes, and start a new one */
  killWorkerAfter?: string;
  /** keep an existing lab (default: rebuild it so the run starts from the "before" state) */
  reuseLab?: boolean;
  log?: (line: string) => void;
  maxMinutes?: number;
  /** run the independent safety monitor (etcd quorum margin every 100 ms, VIP holders, a 20 ms probe) instead of the 100 ms probe */
  monitor?: boolean;
  /** CPM_FAILPOINTS for every worker; a worker that dies is replaced at once (the fault-matrix runner) */
  failpoints?: string;
  /** environment faults, each started once (in the background) when its condition first holds */
  faults?: Fault[];
  /** workers on the task queue at once (default 1); the fault matrix runs 2, as production runs several */
  workers?: number;
  /** instead of approving this checkpoint, abort with --rollback there */
  rollbackAt?: 'switch-traffic' | 'decommission' | 'preflight-ack';
}

export interface FaultContext {
  plan: Plan;
  log: (line: string) => void;
  /** kill -9 the Temporal dev server and start it again on the same SQLite file */
  restartTemporal: (downMs: number) => Promise<void>;
}

export interface Fault {
  name: string;
  when: (s: MigrationStatus) => boolean;
  act: (ctx: FaultContext) => Promise<void>;
}

export interface WorkerDeath {
  pid: number;
  diedAt: string;
  /** the failpoint(s) recorded as fired when it died; empty = killed otherwise */
  failpoints: string[];
  step?: string;
  newPid: number;
  /** from the death to the first activity started on any surviving or new worker */
  recoveryMs?: number;
}

export interface DemoReport {
  workflowId: string;
  runId: string;
  outcome: 'completed' | 'failed';
  error?: string;
  totalMs: number;
  labUpMs: number;
  migrationMs: number;
  steps: Array<{ key: string; ms: number; summary?: string }>;
  probe: ProbeReport;
  checks: Check[];
  workerRestarts: Array<{ afterStep: string; killedPid: number; newPid: number }>;
  deaths: WorkerDeath[];
  monitor?: MonitorReport;
  faults: Array<{ name: string; at: string; ms: number; error?: string }>;
  /** the final migration status */
  status?: MigrationStatus;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}`);
}

export const workerLog = (stateDir: string, n: number) => path.join(stateDir, `worker-${n}.log`);

function startWorker(opts: DemoOptions, n: number): ChildProcess {
  const log = openSync(workerLog(opts.stateDir, n), 'a');
  const armed = opts.failpoints ? { CPM_FAILPOINTS: opts.failpoints, CPM_FAILPOINT_DIR: opts.stateDir } : {};
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
    env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${opts.temporalPort}`, ...armed },
    stdio: ['ignore', log, log],
  });
}

/** The first "activity started" line a worker logged at or after `since` (ms). */
function firstActivityStart(file: string, since: number): number | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const l of text.split('\n')) {
    if (!l.includes('"activity started"')) continue;
    try {
      const ts = Date.parse((JSON.parse(l) as { ts: string }).ts);
      if (ts >= since) return ts;
    } catch {
      // a partial line
    }
  }
  return undefined;
}

function stepLine(s: MigrationStatus): string {
  const c = s.currentStep;
  if (!c) return `[${s.completed.length}/${s.totalSteps}] ${s.state}`;
  return `[${s.completed.length}/${s.totalSteps}] ${c.key}${c.waitingFor ? ` — ${c.waitingFor}` : ''}`;
}

const durationOf = (r: StepRecord) => (r.endedAt ? Date.parse(r.endedAt) - Date.parse(r.startedAt) : 0);

export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const t0 = Date.now();
  mkdirSync(opts.stateDir, { recursive: true });
  const env = { ...process.env, TEMPORAL_PORT: String(opts.temporalPort), TEMPORAL_UI_PORT: String(opts.temporalPort + 1000), CPM_STATE_DIR: opts.stateDir };

  if (!(await portOpen(opts.temporalPort))) await run('bash', [path.join(ROOT, 'scripts', 'dev-server.sh'), 'start'], env);
  else log(`Temporal already on 127.0.0.1:${opts.temporalPort}`);

  const tLab = Date.now();
  if (!opts.reuseLab) {
    log('lab: resetting to the runbook\'s "before" state');
    await labDown();
  }
  const lab = await labUp({ kube: true, vrrp: 'multicast', log: (m) => log(`lab: ${m}`) });
  const labUpMs = Date.now() - tLab;
  log(`lab: up (${formatMs(labUpMs)}), plan ${lab.plan}`);
  const plan: Plan = await loadPlan(lab.plan);

  const connection = await Connection.connect({ address: `127.0.0.1:${opts.temporalPort}` });
  const client = new Client({ connection });
  const workers: ChildProcess[] = [];
  const deaths: WorkerDeath[] = [];
  const restarts: DemoReport['workerRestarts'] = [];
  const faultsDone: DemoReport['faults'] = [];
  const faultRuns: Array<Promise<void>> = [];
  let currentStep: string | undefined;
  let stopping = false;
  const firedFile = path.join(opts.stateDir, 'fired');
  const fired = () => (existsSync(firedFile) ? readFileSync(firedFile, 'utf8').split('\n').filter(Boolean) : []);
  /** a worker, replaced at once when it dies (a failpoint, or the fault matrix killing it) */
  const launch = (): ChildProcess => {
    const w = startWorker(opts, workers.length + 1);
    const firedBefore = fired().length;
    workers.push(w);
    w.once('exit', () => {
      if (stopping) return;
      const diedAt = Date.now();
      const next = launch();
      const death: WorkerDeath = { pid: w.pid ?? -1, diedAt: new Date(diedAt).toISOString(), failpoints: fired().slice(firedBefore), step: currentStep, newPid: next.pid ?? -1 };
      deaths.push(death);
      log(`worker pid ${w.pid} died${death.failpoints.length ? ` at failpoint ${death.failpoints.join(', ')}` : ''} during ${currentStep ?? '?'}; new worker pid ${next.pid}`);
    });
    return w;
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) launch();
  const monitor = opts.monitor ? new SafetyMonitor(plan, { maxMinutes: opts.maxMinutes ?? 60 }) : undefined;
  const probe = monitor ? undefined : new AvailabilityProbe(vipClient(plan.kubeconfig, plan.loadBalancer.vip, plan.loadBalancer.port), { maxDurationMs: (opts.maxMinutes ?? 60) * 60_000 });
  const faultCtx: FaultContext = {
    plan,
    log,
    restartTemporal: async (downMs) => {
      const pid = Number(readFileSync(path.join(opts.stateDir, 'temporal.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      log(`Temporal dev server pid ${pid} killed with SIGKILL`);
      await new Promise((r) => setTimeout(r, downMs));
      await run('bash', [path.join(ROOT, 'scripts', 'dev-server.sh'), 'start'], env);
      log('Temporal dev server restarted on the same SQLite file');
    },
  };
  try {
    if (monitor) {
      await monitor.start(50);
      log(`safety monitor: etcd quorum margin every 100 ms, VIP holders from kernel events, 20 ms probe through https://${plan.loadBalancer.vip}:${plan.loadBalancer.port} (50 objects written before)`);
    } else if (probe) {
      await probe.seed(50);
      probe.start();
      log(`probe: reading and writing through https://${plan.loadBalancer.vip}:${plan.loadBalancer.port} every 100 ms (50 objects written before)`);
    }

    const workflowId = workflowIdFor(plan.cluster);
    const sa = await searchAttributesRegistered(client);
    const handle = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [{ plan, features: { searchAttributes: sa } }],
      workflowIdConflictPolicy: 'FAIL',
      staticSummary: `cpmigrate ${plan.cluster} (lab demo)`,
      ...(sa ? { typedSearchAttributes: [{ key: CpmCluster, value: plan.cluster }] } : {}),
    });
    log(`migration started: ${workflowId} (Web UI http://127.0.0.1:${opts.temporalPort + 1000}/namespaces/default/workflows/${workflowId})`);
    const tMig = Date.now();

    let last = '';
    let announced = '';
    const started = new Set<string>();
    const deadline = Date.now() + (opts.maxMinutes ?? 60) * 60_000;
    for (;;) {
      let s: MigrationStatus;
      let running: boolean;
      try {
        const desc = await handle.describe();
        s = await handle.query(statusQuery);
        running = desc.status.name === 'RUNNING';
      } catch (e) {
        // the Temporal server may be down (a fault of the matrix): wait for it, bounded by the deadline
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      currentStep = s.currentStep?.key;
      const line = stepLine(s);
      if (line !== last) log(line);
      last = line;
      if (opts.killWorkerAfter && !restarts.length && s.completed.some((r) => r.key === opts.killWorkerAfter)) {
        const old = workers[workers.length - 1];
        old?.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
        restarts.push({ afterStep: opts.killWorkerAfter, killedPid: old?.pid ?? -1, newPid: workers[workers.length - 1]?.pid ?? -1 });
        log(`worker pid ${old?.pid} killed with SIGKILL after ${opts.killWorkerAfter}`);
      }
      for (const f of opts.faults ?? []) {
        if (started.has(f.name) || !f.when(s)) continue;
        started.add(f.name);
        const at = Date.now();
        log(`fault: ${f.name}`);
        faultRuns.push(
          f.act(faultCtx).then(
            () => void faultsDone.push({ name: f.name, at: new Date(at).toISOString(), ms: Date.now() - at }),
            (e: unknown) => void faultsDone.push({ name: f.name, at: new Date(at).toISOString(), ms: Date.now() - at, error: (e as Error).message }),
          ),
        );
      }
      const gate = s.pendingCheckpoint?.gate;
      if (gate && announced !== gate) {
        announced = gate;
        log(`checkpoint "${gate}" waits for approval:`);
        for (const c of s.pendingCheckpoint?.approveCommands ?? []) log(`    ${c}`);
        if (opts.rollbackAt === gate) {
          await handle.signal(abortSignal, { reason: `rollback rehearsal at ${gate}`, by: 'demo', rollback: true });
          log(`abort --rollback sent at "${gate}"`);
        } else if (opts.yes) {
          await handle.executeUpdate(approveUpdate, { args: [{ gate, by: 'demo --yes', reason: 'unattended demo run' }] });
          log(`approved "${gate}" (--yes)`);
        }
      }
      if (!running) break;
      if (Date.now() > deadline) throw new Error(`the demo did not finish within ${opts.maxMinutes ?? 60} minutes; last: ${line}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    let outcome: DemoReport['outcome'] = 'completed';
    let error: string | undefined;
    await handle.result().catch((e: unknown) => {
      outcome = 'failed';
      error = e instanceof WorkflowFailedError ? (e.cause?.message ?? e.message) : String(e);
    });
    const migrationMs = Date.now() - tMig;
    await Promise.all(faultRuns);
    const monitorReport = monitor ? await monitor.stop() : undefined;
    const probeReport = monitorReport?.probe ?? (await (probe as AvailabilityProbe).stop());
    const final = await handle.query(statusQuery);
    const checks = opts.rollbackAt ? await verifyBeforeState(plan, sshHostOps) : outcome === 'completed' ? await verifyAfterState(plan, sshHostOps) : [];
    for (const d of deaths) {
      const since = Date.parse(d.diedAt);
      const starts = workers.map((_, n) => firstActivityStart(workerLog(opts.stateDir, n + 1), since)).filter((x): x is number => x !== undefined);
      if (starts.length) d.recoveryMs = Math.min(...starts) - since;
    }
    const report: DemoReport = {
      workflowId,
      runId: handle.firstExecutionRunId,
      outcome,
      error,
      totalMs: Date.now() - t0,
      labUpMs,
      migrationMs,
      steps: final.completed.map((r) => ({ key: r.key, ms: durationOf(r), summary: r.summary })),
      probe: probeReport,
      checks,
      workerRestarts: restarts,
      deaths,
      monitor: monitorReport,
      faults: faultsDone,
      status: final,
    };
    writeFileSync(path.join(opts.stateDir, 'demo-report.json'), JSON.stringify(report, null, 2));
    return report;
  } finally {
    stopping = true;
    if (monitor) await monitor.stop().catch(() => undefined);
    else await probe?.stop().catch(() => undefined);
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
    await sshHostOps().close();
    await connection.close();
  }
}

export function renderReport(r: DemoReport): string {
  const lines = [
    '',
    `== cpmigrate demo: ${r.outcome.toUpperCase()} (${r.workflowId}) ==`,
    ...(r.error ? [`error: ${r.error}`] : []),
    `total ${formatMs(r.totalMs)} (lab up ${formatMs(r.labUpMs)}, migration ${formatMs(r.migrationMs)})`,
    '',
    'steps:',
    ...r.steps.map((s) => `  ${s.key.padEnd(40)} ${formatMs(s.ms).padStart(7)}  ${s.summary ?? ''}`),
    '',
    `availability probe through the VIP: ${r.probe.sent} requests, ${r.probe.failed} failed, longest gap without a successful answer ${r.probe.longestGapMs} ms${r.probe.longestGapAt ? ` (at ${r.probe.longestGapAt})` : ''}`,
    `objects written before the migration: ${r.probe.seeded}, missing after: ${r.probe.missingAfter.length}`,
    ...r.probe.firstErrors.map((e) => `  probe error: ${e}`),
    ...r.workerRestarts.map((w) => `worker killed (pid ${w.killedPid}) after ${w.afterStep}; resumed on pid ${w.newPid}`),
    ...r.deaths.map((d) => `worker pid ${d.pid} died${d.failpoints.length ? ` at ${d.failpoints.join(', ')}` : ''} during ${d.step ?? '?'}; next activity started ${d.recoveryMs ?? '?'} ms later (replacement pid ${d.newPid})`),
    ...r.faults.map((f) => `fault ${f.name} at ${f.at} (${formatMs(f.ms)})${f.error ? `: FAILED ${f.error}` : ''}`),
    ...(r.monitor ? ['', ...renderMonitor(r.monitor)] : []),
    '',
    r.checks.some((c) => c.name.startsWith('before:')) ? 'state (rolled back):' : 'after state:',
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const yes = argv.includes('--yes');
  const kill = argv.includes('--kill-worker-after') ? argv[argv.indexOf('--kill-worker-after') + 1] : undefined;
  const report = await runDemo({
    yes,
    temporalPort: Number(process.env.TEMPORAL_PORT ?? 7233),
    stateDir: process.env.CPM_STATE_DIR ?? path.join(ROOT, '.cpmigrate'),
    killWorkerAfter: kill,
    reuseLab: argv.includes('--reuse-lab'),
    // a human may take a while at a checkpoint; unattended runs are bounded tighter
    maxMinutes: yes ? 60 : 24 * 60,
  });
  process.stdout.write(`${renderReport(report)}\n`);
  const ok = report.outcome === 'completed' && report.checks.every((c) => c.ok) && report.probe.missingAfter.length === 0;
  return ok ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`demo: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
