/**
 * npm run bench [-- all|fleet|lab|history] — the performance benchmarks (docs/bench.md).
 *
 *   fleet [--sizes 50,100,200] [--activity-ms 0]   N migrations on one worker (no lab needed)
 *   lab [--runs 5]                                 lab migrations: overhead, critical path, API gaps
 *                                                  (root, under the lab lock:
 *                                                   flock /tmp/cpmigrate-lab.lock npm run bench -- lab)
 *   drain                                          kubectl drain vs cpmigrate's drain, 200 pods + PDBs
 *                                                  (on the lab, under the lab lock)
 *   history FILE...                                orchestration overhead of recorded histories
 *   all (default)                                  lab, drain and fleet, written to docs/bench.md (lab lock)
 *
 * Every measurement is printed with the load average beside it: on a shared
 * 2-core machine the numbers are pessimistic.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { runDrainBench } from './drain';
import { runFleet, type FleetResult } from './fleet';
import { orchestrationOverhead, stepSpans } from './history';
import { runLabMigration, type LabRun } from './lab';
import { readHistoryFile } from './read-history';
import { drainTable, fleetTable, gapCauseTable, historyStepTable, labRunsTable, overheadTable, stepTable } from './report';
import { loadAverage } from './stats';

const ROOT = path.join(__dirname, '..', '..');
const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);

async function fleetSection(sizes: number[], activityMs: number): Promise<string> {
  const results: FleetResult[] = [];
  for (const n of sizes) {
    const r = await runFleet(n, { activityMs, log });
    results.push(r);
    log(`fleet ${n}: ${JSON.stringify(r)}`);
  }
  return [
    `## A fleet on one worker`,
    '',
    `N migrations started together against one worker process (the real workflow code, recording activity doubles of ${activityMs} ms each, the production worker's options from \`src/worker-tuning.ts\`), on a Temporal dev server of their own (SQLite). Each runs to the switch-traffic checkpoint (all N then sit in the worker's cache: that is where memory per migration is read), all are approved together, all run to the end. WFT = workflow task, WorkflowTaskScheduled → WorkflowTaskCompleted over every task of every history; "queued" is its Scheduled → Started part. Goal: flat memory per migration, WFT p99 < 100 ms at 200.`,
    '',
    fleetTable(results),
    '',
  ].join('\n');
}

async function labSection(runs: number): Promise<string> {
  const done: LabRun[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await runLabMigration(i, log);
    done.push(r);
    log(
      `lab run ${i}: ${r.outcome} in ${(r.migrationMs / 1000).toFixed(1)} s, overhead ${(r.overhead.overheadShare * 100).toFixed(1)} %, longest gap ${r.availability.longestGapMs} ms (${r.availability.longestGapCause ?? '-'}); history and logs in ${r.stateDir}`,
    );
  }
  const median = [...done].sort((a, b) => a.migrationMs - b.migrationMs)[Math.floor(done.length / 2)] as LabRun;
  return [
    `## Lab migrations`,
    '',
    `${runs} migrations of the lab (3 → 3 masters, real etcd/sshd/keepalived/nginx/kube-apiserver), each from a freshly built "before" state, one worker, checkpoints approved at once, the safety monitor's 20 ms probe (reads and writes) through the VIP. *Orchestration overhead*: wall time covered by no activity and no checkpoint wait, as a share of the rest (from the event history). *Unavoidable waits*: per activity, from the start of each wait for the cluster to the last check that still found it not done (\`src/lib/waits.ts\`: daemon start → ready, etcd reconfiguration window, learner catch-up, VRRP handover, evictions) — a lower bound. Goals: overhead < 2 %, wall ≤ 1.3 × unavoidable, longest API gap ≤ 300 ms, 0 failed writes after one retry.`,
    '',
    labRunsTable(done),
    '',
    `### API gaps by cause (all runs)`,
    '',
    gapCauseTable(done),
    '',
    `### Critical path of the median run (run ${median.run}, ${(median.migrationMs / 1000).toFixed(1)} s)`,
    '',
    stepTable(median),
    '',
  ].join('\n');
}

async function drainSection(): Promise<string> {
  const d = await runDrainBench(log);
  return [
    `## Drain side by side`,
    '',
    `The same node, the same ${d.pods} pods (10 Deployments × 20 replicas, a PodDisruptionBudget of maxUnavailable 5 each), the same lab apiserver, one run: \`kubectl drain --ignore-daemonsets --force\` (${d.kubectl}, built from the k8s.io/kubernetes module by scripts/build-kube.sh) and cpmigrate's drainNode; the pods are put back on the node between the two. Goal: no slower than kubectl.`,
    '',
    drainTable(d),
    '',
  ].join('\n');
}

function historySection(files: string[]): string {
  const histories = files.map((f) => ({ name: path.basename(f), h: readHistoryFile(f) }));
  const runs = histories.map(({ name, h }) => ({ name, report: orchestrationOverhead(h) }));
  const steps = histories.filter(({ h }) => stepSpans(h).length).map(({ name, h }) => [`### Steps of ${name}`, '', historyStepTable(h), '']);
  return [`## Orchestration overhead from event histories`, '', overheadTable(runs), '', ...steps.flat()].join('\n');
}

function header(): string {
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (${new Date().toISOString()}; load average at the start: ${loadAverage()}). \`npm run bench -- fleet\`, \`-- lab\`, \`-- history FILE...\` run one part.`,
    'The machine has 2 cores shared by several engineers: every number is printed with the load average beside it, and numbers measured under load are pessimistic.',
    '',
  ].join('\n');
}

function positiveInts(flag: string, s: string): number[] {
  return s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: '${x}' is not a positive integer`);
    return n;
  });
}

const program = new Command('bench').description('cpmigrate performance benchmarks');
program
  .command('fleet')
  .description('N migrations started together on one worker with recording activity doubles')
  .option('--sizes <list>', 'fleet sizes', '50,100,200')
  .option('--activity-ms <ms>', 'duration of every activity double', '0')
  .action(async (o: { sizes: string; activityMs: string }) => {
    const [ms] = o.activityMs === '0' ? [0] : positiveInts('--activity-ms', o.activityMs);
    process.stdout.write(`${await fleetSection(positiveInts('--sizes', o.sizes), ms ?? 0)}\n`);
  });
program
  .command('lab')
  .description('lab migrations with the safety monitor (root, under the lab lock)')
  .option('--runs <n>', 'migrations', '5')
  .action(async (o: { runs: string }) => {
    const [runs] = positiveInts('--runs', o.runs);
    process.stdout.write(`${await labSection(runs ?? 5)}\n`);
  });
program
  .command('drain')
  .description("kubectl drain against cpmigrate's drain (on the lab, under the lab lock)")
  .action(async () => {
    process.stdout.write(`${await drainSection()}\n`);
  });
program
  .command('history')
  .description('orchestration overhead of recorded event histories (proto JSON, .json or .json.gz)')
  .argument('<files...>')
  .action((files: string[]) => {
    process.stdout.write(`${historySection(files)}\n`);
  });
program
  .command('all', { isDefault: true })
  .description('lab, drain and fleet benchmarks, written to docs/bench.md (root, under the lab lock)')
  .option('--runs <n>', 'lab migrations', '5')
  .option('--sizes <list>', 'fleet sizes', '50,100,200')
  .option('--out <file>', 'where to write', path.join(ROOT, 'docs', 'bench.md'))
  .action(async (o: { runs: string; sizes: string; out: string }) => {
    const [runs] = positiveInts('--runs', o.runs);
    const doc = [header(), await labSection(runs ?? 5), await drainSection(), await fleetSection(positiveInts('--sizes', o.sizes), 0)].join('\n');
    writeFileSync(o.out, doc);
    process.stdout.write(doc);
    log(`wrote ${o.out}`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
