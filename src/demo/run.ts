/**
 * The one-command demo: Temporal dev server (started or reused), a worker
 * process, the lab in its "before" state, the migration with progress and
 * checkpoints (approved by you, or by --yes), an availability probe through
 * the VIP, and a verification of the runbook's "after" state at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { searchAttributesRegistered } from '../cli/connect';
import { sshHostOps } from '../lib/ssh';
import { formatMs } from '../plan/duration';
import { loadPlan } from '../plan/load';
import type { Plan } from '../plan/schema';
import { CpmCluster } from '../search-attributes';
import { TASK_QUEUE, WORKFLOW_TYPE, approveUpdate, statusQuery, workflowIdFor, type MigrationStatus, type StepRecord } from '../shared';
import { labDown, labUp } from '../lab/cli';
import { misconfigureClients } from '../lab/misconfigure';
import { AvailabilityProbe, vipClient, type ProbeReport } from './probe';
import { seedSecret, verifyCarried } from './carried';
import { verifyAfterState, type Check } from './verify';

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
  /**
   * point worker-2's kubelet (a Node the plan does not list) and the kube-proxy ConfigMap at an old
   * master before the migration, and enable the client-fixes checkpoint, which fixes both
   */
  misconfigureClients?: boolean;
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

function startWorker(opts: DemoOptions, n: number): ChildProcess {
  const log = openSync(path.join(opts.stateDir, `worker-${n}.log`), 'a');
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'worker.ts')], {
    env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${opts.temporalPort}` },
    stdio: ['ignore', log, log],
  });
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
  const loaded: Plan = await loadPlan(lab.plan);
  let plan = loaded;
  if (opts.misconfigureClients) {
    const m = await misconfigureClients();
    log(`lab: ${m.node}'s kubelet.conf and the kube-proxy ConfigMap now use ${m.server} (an old master); the client-fixes checkpoint is on`);
    plan = { ...loaded, checkpoints: { ...loaded.checkpoints, 'client-fixes': { ...loaded.checkpoints['client-fixes'], enabled: true } } };
  }

  const connection = await Connection.connect({ address: `127.0.0.1:${opts.temporalPort}` });
  const client = new Client({ connection });
  const workers: ChildProcess[] = [startWorker(opts, 1)];
  const restarts: DemoReport['workerRestarts'] = [];
  const probe = new AvailabilityProbe(vipClient(plan.kubeconfig, plan.loadBalancer.vip, plan.loadBalancer.port), { maxDurationMs: (opts.maxMinutes ?? 60) * 60_000 });
  try {
    await probe.seed(50);
    await seedSecret(plan);
    probe.start();
    log(`probe: reading and writing through https://${plan.loadBalancer.vip}:${plan.loadBalancer.port} every 100 ms (50 objects written before)`);

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
    const deadline = Date.now() + (opts.maxMinutes ?? 60) * 60_000;
    for (;;) {
      const desc = await handle.describe();
      // a query waits for a worker: on a loaded machine the first one may start late; keep polling
      const s = await handle.query(statusQuery).catch((e: unknown) => {
        if (desc.status.name === 'RUNNING' && Date.now() < deadline && /DEADLINE_EXCEEDED|timed out/i.test(String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message))) return undefined;
        throw e;
      });
      if (!s) continue;
      const line = stepLine(s);
      if (line !== last) log(line);
      last = line;
      if (opts.killWorkerAfter && !restarts.length && s.completed.some((r) => r.key === opts.killWorkerAfter)) {
        const old = workers[workers.length - 1];
        old?.kill('SIGKILL');
        const fresh = startWorker(opts, workers.length + 1);
        workers.push(fresh);
        restarts.push({ afterStep: opts.killWorkerAfter, killedPid: old?.pid ?? -1, newPid: fresh.pid ?? -1 });
        log(`worker pid ${old?.pid} killed with SIGKILL after ${opts.killWorkerAfter}; new worker pid ${fresh.pid}`);
      }
      const gate = s.pendingCheckpoint?.gate;
      if (gate && announced !== gate) {
        announced = gate;
        log(`checkpoint "${gate}" waits for approval:`);
        for (const c of s.pendingCheckpoint?.approveCommands ?? []) log(`    ${c}`);
        if (opts.yes) {
          await handle.executeUpdate(approveUpdate, { args: [{ gate, by: 'demo --yes', reason: 'unattended demo run' }] });
          log(`approved "${gate}" (--yes)`);
        }
      }
      if (desc.status.name !== 'RUNNING') break;
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
    const probeReport = await probe.stop();
    const final = await handle.query(statusQuery);
    const checks = outcome === 'completed' ? [...(await verifyAfterState(plan, sshHostOps)), ...(await verifyCarried(plan, sshHostOps))] : [];
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
    };
    writeFileSync(path.join(opts.stateDir, 'demo-report.json'), JSON.stringify(report, null, 2));
    return report;
  } finally {
    await probe.stop().catch(() => undefined);
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
    '',
    'after state:',
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
