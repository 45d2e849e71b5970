/**
 * npm run chaos [-- --only GLOB] [--scenario NAME[,NAME...]] [--ci]
 *
 * Runs the fault matrix on the lab (as root; each scenario rebuilds the lab
 * in its "before" state and runs one migration with the safety monitor), and
 * prints and writes docs/chaos-results.md: per scenario the outcome, the
 * failpoints that fired, worker deaths, the worst recovery (death to the next
 * activity started), the longest API gap through the VIP, the minimum etcd
 * quorum margin and the longest double VIP. --only narrows the worker
 * failpoints (e.g. 'etcd.*'); --ci runs the subset `npm test` runs.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { FAILPOINTS } from '../lib/failpoint';
import { runDemo, renderReport, type DemoReport } from '../demo/run';
import { labDown } from '../lab/cli';
import { paths } from '../lab/layout';
import { assess, firedIn, type Assessment } from './assess';
import { CI_SCENARIO, ENVIRONMENT, MATRIX, SCENARIOS, type Scenario } from './scenarios';
import { loadRows, renderTable, saveRows, upsertRow } from './results';
import { freeLoopbackPort, stopTemporal } from './temporal';

const ROOT = path.join(__dirname, '..', '..');

export async function runScenario(
  s: Scenario,
  log: (l: string) => void,
  maxMinutes = 90,
): Promise<{ assessment: Assessment; report: string; demo: DemoReport }> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `cpm-chaos-${s.name}-`));
  const temporalPort = await freeLoopbackPort();
  try {
    const report = await runDemo({
      yes: true,
      temporalPort,
      stateDir,
      monitor: true,
      workers: 2,
      maxMinutes,
      log,
      ...(s.failpoints ? { failpoints: s.failpoints } : {}),
      ...(s.faults ? { faults: s.faults } : {}),
      ...(s.rollbackAt ? { rollbackAt: s.rollbackAt } : {}),
      ...(s.misconfigureClients ? { misconfigureClients: true } : {}),
      ...(s.shape ? { shape: s.shape } : {}),
    });
    const assessment = await assess(s, report, { temporalPort, stateDir, planPath: paths.plan });
    return { assessment, report: renderReport(report), demo: report };
  } catch (err) {
    // a scenario that did not finish still says which failpoints it got through
    throw new ScenarioError(err as Error, firedIn(stateDir), stateDir);
  } finally {
    await stopTemporal(temporalPort, stateDir);
  }
}

/** A scenario that could not finish (the deadline, the lab), with the failpoints that fired before. */
export class ScenarioError extends Error {
  constructor(
    override readonly cause: Error,
    readonly fired: string[],
    readonly stateDir: string,
  ) {
    super(`${cause.message} (state, worker logs and history: ${stateDir})`);
    this.name = 'ScenarioError';
  }
}

async function main(argv: string[]): Promise<number> {
  const cmd = new Command('chaos')
    .option('--only <glob>', 'arm only these worker failpoints (worker-failpoints scenario)')
    .option(
      '--scenario <names>',
      `comma-separated: ${SCENARIOS.map((s) => s.name).join(', ')}, environment (all environment faults in one run), matrix (the default, with rollback and client-fixes: every failpoint and every environment fault in one run), separate (every scenario on its own), ci-subset`,
    )
    .option('--write', 'write docs/chaos-results.md even for a --scenario selection')
    .option('--ci', 'the subset npm test runs')
    .option('--no-write', 'do not write docs/chaos-results.md')
    .option('--max-minutes <n>', 'give each scenario this long before it counts as failed (a loaded 2-core machine needs about 60 for worker-failpoints)', '90')
    .parse(argv, { from: 'user' });
  const o = cmd.opts<{ only?: string; scenario?: string; ci?: boolean; write: boolean; maxMinutes: string }>();
  const maxMinutes = Number(o.maxMinutes);
  if (!Number.isInteger(maxMinutes) || maxMinutes < 5) throw new Error(`--max-minutes ${o.maxMinutes}: expected a whole number of minutes, at least 5`);
  const writeDoc = argv.includes('--write') || (!argv.includes('--no-write') && !o.only && !o.scenario);
  if (process.getuid?.() !== 0) throw new Error('the fault matrix runs on the lab: run as root');
  // the default: the matrix, then the two scenarios whose failpoints only a rollback (and misconfigured clients) reach
  const named = (n: string) => SCENARIOS.filter((s) => s.name === n);
  let chosen: Scenario[] = o.ci ? [CI_SCENARIO, ...named('rollback')] : [MATRIX, ...named('rollback'), ...named('client-fixes')];
  if (o.scenario) {
    const names = o.scenario.split(',').flatMap((n) => (n === 'separate' ? SCENARIOS.map((s) => s.name) : [n]));
    const all = [...SCENARIOS, ENVIRONMENT, MATRIX, CI_SCENARIO];
    const unknown = names.filter((n) => !all.some((s) => s.name === n));
    if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
    chosen = names.map((n) => all.find((s) => s.name === n) as Scenario);
  }
  if (o.only) chosen = chosen.map((s) => (s.name === 'worker-failpoints' ? { ...s, failpoints: o.only } : s));
  const t0 = Date.now();
  const rows: Assessment[] = [];
  const base = path.join(ROOT, 'docs', o.ci ? 'chaos-results-ci' : 'chaos-results');
  const command = `npm run chaos -- ${argv.join(' ')}`.trim().replace(/ --$/, '');
  let saved = writeDoc ? loadRows(`${base}.json`) : [];
  for (const s of chosen) {
    process.stdout.write(`\n=== scenario ${s.name}: ${s.what}\n`);
    const { assessment, report } = await runScenario(s, (l) => process.stdout.write(`  ${l}\n`), maxMinutes).catch((err: Error) => ({
      // A scenario that could not finish (the deadline, the lab) is a failed row, and the matrix goes on.
      assessment: {
        scenario: s.name,
        ok: false,
        problems: [err.message],
        fired: err instanceof ScenarioError ? err.fired : [],
        deaths: 0,
        longestGapMs: 0,
        migrationMs: 0,
      } satisfies Assessment,
      report: `scenario ${s.name} did not finish: ${err.message}`,
    }));
    process.stdout.write(`${report}\n`);
    process.stdout.write(`=== ${s.name}: ${assessment.ok ? 'CONVERGED' : `FAILED\n  * ${assessment.problems.join('\n  * ')}`}\n`);
    rows.push(assessment);
    if (writeDoc) {
      saved = upsertRow(saved, assessment, s.what);
      saveRows(`${base}.json`, `${base}.md`, saved, Object.keys(FAILPOINTS).length, command);
    }
  }
  await labDown();
  process.stdout.write(`\n${renderTable(rows, Date.now() - t0)}\n`);
  return rows.every((r) => r.ok) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`chaos: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
