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
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { FAILPOINTS } from '../lib/failpoint';
import { runDemo, renderReport, type DemoReport } from '../demo/run';
import { labDown } from '../lab/cli';
import { paths } from '../lab/layout';
import { formatMs } from '../plan/duration';
import { assess, type Assessment } from './assess';
import { CI_SCENARIO, ENVIRONMENT, SCENARIOS, type Scenario } from './scenarios';
import { freeLoopbackPort, stopTemporal } from './temporal';

const ROOT = path.join(__dirname, '..', '..');

export async function runScenario(s: Scenario, log: (l: string) => void): Promise<{ assessment: Assessment; report: string; demo: DemoReport }> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `cpm-chaos-${s.name}-`));
  const temporalPort = await freeLoopbackPort();
  try {
    const report = await runDemo({
      yes: true,
      temporalPort,
      stateDir,
      monitor: true,
      workers: 2,
      maxMinutes: 30,
      log,
      ...(s.failpoints ? { failpoints: s.failpoints } : {}),
      ...(s.faults ? { chaosFaults: s.faults } : {}),
      ...(s.rollbackAt ? { rollbackAt: s.rollbackAt } : {}),
      ...(s.misconfigureClients ? { misconfigureClients: true } : {}),
      ...(s.shape ? { shape: s.shape } : {}),
    });
    const assessment = await assess(s, report, { temporalPort, stateDir, planPath: paths.plan });
    return { assessment, report: renderReport(report), demo: report };
  } finally {
    await stopTemporal(temporalPort, stateDir);
  }
}

export function renderTable(rows: Assessment[], totalMs: number): string {
  const ms = (x: number | undefined) => (x === undefined ? '–' : `${x} ms`);
  return [
    `| scenario | outcome | failpoints fired | worker deaths | worst recovery | longest API gap | min quorum margin | longest double VIP | migration |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.ok ? 'converged' : `FAILED: ${r.problems.join('; ').replace(/\|/g, '/')}`} | ${r.fired.length} | ${r.deaths} | ${ms(r.worstRecoveryMs)} | ${ms(r.longestGapMs)} | ${r.minQuorumMargin ?? '–'} | ${ms(r.maxVipDoubleMs)} | ${formatMs(r.migrationMs)} |`,
    ),
    '',
    `${rows.length} scenario(s), ${rows.filter((r) => r.ok).length} converged, ${rows.reduce((n, r) => n + r.fired.length, 0)} failpoint deaths, in ${formatMs(totalMs)}.`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const cmd = new Command('chaos')
    .option('--only <glob>', 'arm only these worker failpoints (worker-failpoints scenario)')
    .option('--scenario <names>', `comma-separated: ${SCENARIOS.map((s) => s.name).join(', ')}, environment (all environment faults in one run), ci-subset`)
    .option('--write', 'write docs/chaos-results.md even for a --scenario selection')
    .option('--ci', 'the subset npm test runs')
    .option('--no-write', 'do not write docs/chaos-results.md')
    .parse(argv, { from: 'user' });
  const o = cmd.opts<{ only?: string; scenario?: string; ci?: boolean; write: boolean }>();
  const writeDoc = argv.includes('--write') || (!argv.includes('--no-write') && !o.only && !o.scenario);
  if (process.getuid?.() !== 0) throw new Error('the fault matrix runs on the lab: run as root');
  let chosen: Scenario[] = o.ci ? [CI_SCENARIO, ...SCENARIOS.filter((s) => s.name === 'rollback')] : SCENARIOS;
  if (o.scenario) {
    const names = o.scenario.split(',');
    const all = [...SCENARIOS, ENVIRONMENT, CI_SCENARIO];
    const unknown = names.filter((n) => !all.some((s) => s.name === n));
    if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
    chosen = names.map((n) => all.find((s) => s.name === n) as Scenario);
  }
  if (o.only) chosen = chosen.map((s) => (s.name === 'worker-failpoints' ? { ...s, failpoints: o.only } : s));
  const t0 = Date.now();
  const rows: Assessment[] = [];
  for (const s of chosen) {
    process.stdout.write(`\n=== scenario ${s.name}: ${s.what}\n`);
    const { assessment, report } = await runScenario(s, (l) => process.stdout.write(`  ${l}\n`));
    process.stdout.write(`${report}\n`);
    process.stdout.write(`=== ${s.name}: ${assessment.ok ? 'CONVERGED' : `FAILED\n  * ${assessment.problems.join('\n  * ')}`}\n`);
    rows.push(assessment);
  }
  await labDown();
  const table = renderTable(rows, Date.now() - t0);
  process.stdout.write(`\n${table}\n`);
  if (writeDoc) {
    const doc = [
      '# Fault matrix results',
      '',
      `Generated by \`npm run chaos${o.ci ? ' -- --ci' : ''}\` on the lab (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores). ` +
        `${Object.keys(FAILPOINTS).length} failpoints in the catalogue (docs/failpoints.md); each scenario is one migration with the safety monitor.`,
      '',
      ...chosen.map((s) => `- **${s.name}**: ${s.what}`),
      '',
      table,
      '',
      ...rows.map((r) => `- ${r.scenario} fired: ${r.fired.join(', ') || 'none'}`),
      '',
    ].join('\n');
    writeFileSync(path.join(ROOT, 'docs', o.ci ? 'chaos-results-ci.md' : 'chaos-results.md'), doc);
  }
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
