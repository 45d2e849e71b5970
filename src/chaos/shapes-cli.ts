/**
 * npm run e2e:shapes [-- --only NAME[,NAME]]: every shape of src/chaos/shapes.ts
 * migrated on the lab, one after the other (take the lab lock:
 * flock /tmp/cpmigrate-lab.lock npm run e2e:shapes); prints per shape the
 * migration time, the longest API gap, failed probe requests, the minimum
 * quorum margin and the verdict. Exit 1 if any shape failed.
 */
import { formatMs } from '../plan/duration';
import { labDown } from '../lab/cli';
import { runScenario } from './cli';
import { SHAPE_SCENARIOS } from './shapes';
import { describeFailures, describeGap, failuresAfterRetry } from '../demo/probe';

async function main(argv: string[]): Promise<number> {
  const i = argv.indexOf('--only');
  const only = i >= 0 ? (argv[i + 1] ?? '').split(',').filter(Boolean) : [];
  const chosen = only.length ? SHAPE_SCENARIOS.filter((s) => only.includes(s.name)) : SHAPE_SCENARIOS;
  if (only.length && chosen.length !== only.length) throw new Error(`unknown shape; known: ${SHAPE_SCENARIOS.map((s) => s.name).join(', ')}`);
  const rows: string[] = [];
  let failed = 0;
  const t0 = Date.now();
  try {
    for (const s of chosen) {
      const t = Date.now();
      process.stderr.write(`\n=== ${s.name}: ${s.what}\n`);
      const { assessment: a, demo } = await runScenario(s, (l) => process.stderr.write(`${l}\n`));
      const problems = [...a.problems, ...failuresAfterRetry(demo.probe)];
      if (problems.length) failed++;
      const row =
        `| ${s.name} | ${problems.length ? `FAILED: ${problems.join('; ').replace(/\|/g, '/')}` : 'migrated'} | ${formatMs(a.migrationMs)} | ${describeGap(demo.probe)} | ` +
        `${describeFailures(demo.probe)} | ${a.minQuorumMargin ?? '–'} | ${a.maxVipDoubleMs ?? 0} ms | ${formatMs(Date.now() - t)} |`;
      rows.push(row);
      process.stdout.write(`${row}\n`);
    }
  } finally {
    await labDown();
  }
  process.stdout.write(
    [
      '',
      '| shape | outcome | migration | longest API gap | failed requests (first try, after one retry) | min quorum margin | longest double VIP | with lab up |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `${chosen.length} shape(s), ${chosen.length - failed} migrated, in ${formatMs(Date.now() - t0)}`,
      '',
    ].join('\n'),
  );
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
