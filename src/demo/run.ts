/**
 * The one-command demo: Temporal dev server (started or reused), a worker
 * process, the lab in its "before" state, the migration with progress and
 * checkpoints (approved by you, or by --yes), an availability probe through
 * the VIP, and a verification of the runbook's "after" state at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tcpAnswers } from '../lib/net';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { searchAttributesRegistered } from '../cli/connect';
import { sshHostOps } from '../lib/ssh';
import { formatMs } from '../plan/duration';
import { loadPlan } from '../plan/load';
import type { Plan } from '../plan/schema';
import { CpmCluster } from '../search-attributes';
import { temporalSettings } from '../temporal-config';
import { TASK_QUEUE, WORKFLOW_TYPE, abortSignal, approveUpdate, statusQuery, workflowIdFor, type MigrationStatus, type StepRecord } from '../shared';
import { labDown, labUp } from '../lab/cli';
import type { LabShape } from '../lab/layout';
import { misconfigureClients } from '../lab/misconfigure';
import { WORKFLOW_BUNDLE_ENV, writeWorkflowBundle } from '../workflow-bundle';
import { AvailabilityProbe, describeGap, vipClient, type ProbeReport } from './probe';
import { seedSecret, verifyCarried } from './carried';
import { FaultRunner, afterStep, type Fault, type FaultContext, type FaultRecord } from './faults';
import { SafetyMonitor, renderMonitor, type MonitorReport } from './monitor';
import { verifyAfterState, verifyBeforeState, type Check } from './verify';
import { sleep } from '../lib/sleep';

const ROOT = path.join(__dirname, '..', '..');

export interface DemoOptions {
  /** approve every checkpoint automatically */
  yes: boolean;
  /** the dev server's port (started or reused); ignored with temporalEnv */
  temporalPort?: number;
  /**
   * use an existing Temporal instead of the dev server: TEMPORAL_* settings as
   * src/temporal-config.ts reads them (address, namespace, mTLS); the workers get them too
   */
  temporalEnv?: Record<string, string>;
  /** worker processes on the task queue (default 1) */
  workers?: number;
  stateDir: string;
  /** faults injected during the migration, each once (src/demo/faults.ts) */
  faults?: Fault[];
  /** called when a checkpoint becomes pending, before --yes approves it */
  onCheckpoint?: (gate: string, ctx: FaultContext) => Promise<void>;
  /** keep an existing lab (default: rebuild it so the run starts from the "before" state) */
  reuseLab?: boolean;
  /** the lab's shape (default: the runbook's 3 → 3) */
  shape?: LabShape;
  log?: (line: string) => void;
  maxMinutes?: number;
  /**
   * point worker-2's kubelet (a Node the plan does not list) and the kube-proxy ConfigMap at an old
   * master before the migration, and enable the client-fixes checkpoint, which fixes both
   */
  misconfigureClients?: boolean;
  /** run the independent safety monitor (etcd quorum margin every 100 ms, VIP holders, a 20 ms probe) instead of the 100 ms probe */
  monitor?: boolean;
  /** CPM_FAILPOINTS for every worker; a worker that dies is replaced at once (the fault-matrix runner) */
  failpoints?: string;
  /** instead of approving this checkpoint, abort with --rollback there (then the "before" state is checked) */
  rollbackAt?: string;
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
  /** every worker process the demo started */
  workerPids: number[];
  faults: FaultRecord[];
  /** workers that died and were replaced (fault matrix) */
  deaths: WorkerDeath[];
  monitor?: MonitorReport;
  /** the final migration status */
  status?: MigrationStatus;
}

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}`);
}

function temporalEnvOf(opts: DemoOptions): Record<string, string> {
  return opts.temporalEnv ?? { TEMPORAL_ADDRESS: `127.0.0.1:${opts.temporalPort ?? 7233}` };
}

export const workerLog = (stateDir: string, n: number) => path.join(stateDir, `worker-${n}.log`);

function startWorker(opts: DemoOptions, n: number, bundle: string): ChildProcess {
  const log = openSync(workerLog(opts.stateDir, n), 'a');
  const armed = opts.failpoints ? { CPM_FAILPOINTS: opts.failpoints, CPM_FAILPOINT_DIR: opts.stateDir } : {};
  // node itself (not a wrapper that forks), so the pid is the worker's: kill -9 hits it
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
    // every worker of the demo (and each replacement) loads one prebuilt workflow bundle: no webpack at its start
    env: { ...process.env, ...temporalEnvOf(opts), ...armed, [WORKFLOW_BUNDLE_ENV]: bundle },
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

/** Retry a call to the server through an outage (a restart of the server or its database), bounded. */
async function throughOutage<T>(what: string, fn: () => Promise<T>, log: (l: string) => void, maxMs = 180_000): Promise<T> {
  const until = Date.now() + maxMs;
  let reported = false;
  for (;;) {
    try {
      const r = await fn();
      if (reported) log(`${what}: the server answers again`);
      return r;
    } catch (e) {
      if (Date.now() > until) throw e;
      if (!reported) log(`${what}: ${(e as Error).message.split('\n')[0]} (retrying)`);
      reported = true;
      await sleep(1_000);
    }
  }
}

const isAlive = (w: ChildProcess) => w.exitCode === null && w.signalCode === null;

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
  const devPort = opts.temporalPort ?? 7233;
  if (!opts.temporalEnv) {
    const env = { ...process.env, TEMPORAL_PORT: String(devPort), TEMPORAL_UI_PORT: String(devPort + 1000), CPM_STATE_DIR: opts.stateDir };
    if (!(await tcpAnswers('127.0.0.1', devPort))) await run('bash', [path.join(ROOT, 'scripts', 'dev-server.sh'), 'start'], env);
    else log(`Temporal already on 127.0.0.1:${devPort}`);
  }
  const settings = temporalSettings({ ...temporalEnvOf(opts) });

  const tLab = Date.now();
  if (!opts.reuseLab) {
    log('lab: resetting to the runbook\'s "before" state');
    await labDown();
  }
  const lab = await labUp({ kube: true, vrrp: 'multicast', ...(opts.shape ? { shape: opts.shape } : {}), log: (m) => log(`lab: ${m}`) });
  const labUpMs = Date.now() - tLab;
  log(`lab: up (${formatMs(labUpMs)}), plan ${lab.plan}`);
  const loaded: Plan = await loadPlan(lab.plan);
  let plan = loaded;
  if (opts.misconfigureClients) {
    const m = await misconfigureClients();
    log(`lab: ${m.node}'s kubelet.conf and the kube-proxy ConfigMap now use ${m.server} (an old master); the client-fixes checkpoint is on`);
    plan = { ...loaded, checkpoints: { ...loaded.checkpoints, 'client-fixes': { ...loaded.checkpoints['client-fixes'], enabled: true } } };
  }

  const connection = await Connection.connect({ address: settings.address, tls: settings.tls, apiKey: settings.apiKey });
  const client = new Client({ connection, namespace: settings.namespace });
  const workers: ChildProcess[] = [];
  const faults = new FaultRunner(opts.faults ?? [], log);
  // fault matrix: a worker that dies (at a failpoint) is replaced at once
  const supervise = opts.failpoints !== undefined;
  const deaths: WorkerDeath[] = [];
  let currentStep: string | undefined;
  let stopping = false;
  const firedFile = path.join(opts.stateDir, 'fired');
  const fired = () => (existsSync(firedFile) ? readFileSync(firedFile, 'utf8').split('\n').filter(Boolean) : []);
  /** fired names already attributed to a death (deaths come one at a time: each owns what fired since the last) */
  let firedSeen = 0;
  const bundle = await writeWorkflowBundle(path.join(opts.stateDir, 'workflow-bundle.js'));
  const launch = (): ChildProcess => {
    const w = startWorker(opts, workers.length + 1, bundle);
    workers.push(w);
    if (supervise) {
      w.once('exit', () => {
        if (stopping) return;
        const next = launch();
        const now = fired();
        const death: WorkerDeath = {
          pid: w.pid ?? -1,
          diedAt: new Date().toISOString(),
          failpoints: now.slice(firedSeen),
          step: currentStep,
          newPid: next.pid ?? -1,
        };
        firedSeen = now.length;
        deaths.push(death);
        log(
          `worker pid ${w.pid} died${death.failpoints.length ? ` at failpoint ${death.failpoints.join(', ')}` : ''} during ${currentStep ?? '?'}; new worker pid ${next.pid}`,
        );
      });
    }
    return w;
  };
  for (let i = 0; i < Math.max(1, opts.workers ?? 1); i++) launch();
  const monitor = opts.monitor ? new SafetyMonitor(plan, { maxMinutes: opts.maxMinutes ?? 60 }) : undefined;
  const probe = monitor
    ? undefined
    : new AvailabilityProbe(vipClient(plan.kubeconfig, plan.loadBalancer.vip, plan.loadBalancer.port), { maxDurationMs: (opts.maxMinutes ?? 60) * 60_000 });
  try {
    if (monitor) {
      await monitor.start(50);
      await seedSecret(plan);
      log(
        `safety monitor: etcd quorum margin every 100 ms, VIP holders from kernel events, 20 ms probe through https://${plan.loadBalancer.vip}:${plan.loadBalancer.port} (50 objects written before)`,
      );
    } else if (probe) {
      await probe.seed(50);
      await seedSecret(plan);
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
    log(
      opts.temporalEnv
        ? `migration started: ${workflowId} on ${settings.address} (namespace ${settings.namespace}), ${workers.length} worker(s): pids ${workers.map((w) => w.pid).join(', ')}`
        : `migration started: ${workflowId} (Web UI http://127.0.0.1:${devPort + 1000}/namespaces/default/workflows/${workflowId})`,
    );
    const tMig = Date.now();
    const ctx: FaultContext = {
      plan,
      log,
      handle,
      workerPids: () => workers.filter(isAlive).map((w) => w.pid ?? -1),
      async killBusyWorker() {
        const until = Date.now() + 60_000;
        for (;;) {
          const desc = await throughOutage('describe', () => handle.describe(), log);
          for (const a of desc.raw.pendingActivities ?? []) {
            const pid = Number(/^(\d+)@/.exec(a.lastWorkerIdentity ?? '')?.[1]);
            const w = workers.find((x) => x.pid === pid && isAlive(x));
            // state 2 = PENDING_ACTIVITY_STATE_STARTED: an attempt runs on that worker now
            if (w && Number(a.state) === 2) {
              w.kill('SIGKILL');
              await new Promise((r) => (isAlive(w) ? w.once('exit', r) : r(undefined)));
              return { pid, activity: a.activityType?.name ?? '?' };
            }
          }
          if (Date.now() > until) throw new Error('no activity in flight on a worker of this demo within 60 s');
          await sleep(200);
        }
      },
      async replaceWorker() {
        const old = workers.filter(isAlive).pop();
        old?.kill('SIGKILL');
        const fresh = startWorker(opts, workers.length + 1, bundle);
        workers.push(fresh);
        return { killedPid: old?.pid ?? -1, newPid: fresh.pid ?? -1 };
      },
      async restartTemporal(downMs) {
        const pid = Number(readFileSync(path.join(opts.stateDir, 'temporal.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
        log(`Temporal dev server pid ${pid} killed with SIGKILL`);
        await sleep(downMs);
        const env = { ...process.env, TEMPORAL_PORT: String(devPort), TEMPORAL_UI_PORT: String(devPort + 1000), CPM_STATE_DIR: opts.stateDir };
        await run('bash', [path.join(ROOT, 'scripts', 'dev-server.sh'), 'start'], env);
        log('Temporal dev server restarted on the same SQLite file');
      },
    };

    let last = '';
    let announced: string | undefined;
    const deadline = Date.now() + (opts.maxMinutes ?? 60) * 60_000;
    for (;;) {
      const desc = await throughOutage('describe', () => handle.describe(), log);
      // a query waits for a worker (on a loaded machine the first one may start late) and fails
      // while the server or its database restarts: keep asking until the demo's deadline
      const s = await throughOutage('status query', () => handle.query(statusQuery), log, Math.max(60_000, deadline - Date.now()));
      currentStep = s.currentStep?.key;
      const line = stepLine(s);
      if (line !== last) log(line);
      last = line;
      await faults.poll(s, ctx);
      const gate = s.pendingCheckpoint?.gate;
      // a checkpoint that waits again (an approval revoked: the inventory changed) is announced again
      const waiting = gate ? `${gate}@${s.pendingCheckpoint?.since ?? ''}` : undefined;
      if (gate && announced !== waiting) {
        announced = waiting;
        log(`checkpoint "${gate}" waits for approval:`);
        for (const d of s.pendingCheckpoint?.details ?? []) log(`  - ${d}`);
        for (const c of s.pendingCheckpoint?.approveCommands ?? []) log(`    ${c}`);
        if (opts.onCheckpoint) await opts.onCheckpoint(gate, ctx);
        if (opts.rollbackAt === gate) {
          await throughOutage('abort', () => handle.signal(abortSignal, { reason: `rollback rehearsal at ${gate}`, by: 'demo', rollback: true }), log);
          log(`abort --rollback sent at "${gate}"`);
        } else if (opts.yes) {
          // unattended: the references the inventory lists are acknowledged (and logged above), as an operator would after reading them
          const ack = s.pendingCheckpoint?.toAcknowledge ?? [];
          await throughOutage(
            'approve',
            () => handle.executeUpdate(approveUpdate, { args: [{ gate, by: 'demo --yes', reason: 'unattended demo run', ...(ack.length ? { ack } : {}) }] }),
            log,
          );
          log(`approved "${gate}" (--yes)${ack.length ? `, acknowledging ${ack.join(', ')}` : ''}`);
        }
      }
      if (desc.status.name !== 'RUNNING') break;
      if (Date.now() > deadline) throw new Error(`the demo did not finish within ${opts.maxMinutes ?? 60} minutes; last: ${line}`);
      await sleep(500);
    }
    let outcome: DemoReport['outcome'] = 'completed';
    let error: string | undefined;
    await handle.result().catch((e: unknown) => {
      outcome = 'failed';
      error = e instanceof WorkflowFailedError ? (e.cause?.message ?? e.message) : String(e);
    });
    const migrationMs = Date.now() - tMig;
    await faults.settle();
    const monitorReport = monitor ? await monitor.stop() : undefined;
    const probeReport = monitorReport?.probe ?? (await (probe as AvailabilityProbe).stop());
    const final = await throughOutage('status query', () => handle.query(statusQuery), log);
    const checks = opts.rollbackAt
      ? await verifyBeforeState(plan, sshHostOps)
      : outcome === 'completed'
        ? [...(await verifyAfterState(plan, sshHostOps)), ...(await verifyCarried(plan, sshHostOps))]
        : [];
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
      workerPids: workers.map((w) => w.pid ?? -1),
      faults: faults.done,
      deaths,
      monitor: monitorReport,
      status: final,
    };
    writeFileSync(path.join(opts.stateDir, 'demo-report.json'), JSON.stringify(report, null, 2));
    return report;
  } finally {
    stopping = true;
    if (monitor) await monitor.stop().catch(() => undefined);
    else await probe?.stop().catch(() => undefined);
    for (const w of workers) if (isAlive(w)) w.kill('SIGTERM');
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
    `availability probe through the VIP: ${r.probe.sent} requests, ${r.probe.failed} failed, ${describeGap(r.probe)} without a successful answer`,
    `objects written before the migration: ${r.probe.seeded}, missing after: ${r.probe.missingAfter.length}`,
    ...r.probe.firstErrors.map((e) => `  probe error: ${e}`),
    ...r.faults.map((f) => `fault ${f.name} at ${f.at} (${formatMs(f.ms)})${f.error ? `: FAILED ${f.error}` : f.detail ? `: ${f.detail}` : ''}`),
    ...r.deaths.map(
      (d) =>
        `worker pid ${d.pid} died${d.failpoints.length ? ` at ${d.failpoints.join(', ')}` : ''} during ${d.step ?? '?'}; next activity started ${d.recoveryMs ?? '?'} ms later (replacement pid ${d.newPid})`,
    ),
    ...(r.monitor ? ['', ...renderMonitor(r.monitor)] : []),
    '',
    r.checks.some((c) => c.name.startsWith('before:')) ? 'state (rolled back):' : 'after state:',
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
  ];
  return lines.join('\n');
}

/** `--kill-worker-after STEP`: kill -9 the worker right after STEP completes and start a new one. */
function killWorkerAfter(step: string): Fault {
  return {
    name: `worker kill -9 after ${step}`,
    when: afterStep(step),
    blocking: true,
    async act(ctx) {
      const { killedPid, newPid } = await ctx.replaceWorker();
      return `worker pid ${killedPid} killed with SIGKILL; new worker pid ${newPid}`;
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const yes = argv.includes('--yes');
  const kill = argv.includes('--kill-worker-after') ? argv[argv.indexOf('--kill-worker-after') + 1] : undefined;
  const report = await runDemo({
    yes,
    temporalPort: Number(process.env.TEMPORAL_PORT ?? 7233),
    stateDir: process.env.CPM_STATE_DIR ?? path.join(ROOT, '.cpmigrate'),
    ...(kill ? { faults: [killWorkerAfter(kill)] } : {}),
    reuseLab: argv.includes('--reuse-lab'),
    misconfigureClients: argv.includes('--misconfigure-clients'),
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
