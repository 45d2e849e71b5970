/**
 * npm run bench [-- fleet|history|all] — the performance benchmarks (docs/bench.md).
 *
 *   fleet [--sizes 50,100,200] [--activity-ms 0]   N migrations on one worker (no lab needed)
 *   history FILE...                                 orchestration overhead of recorded histories
 *   all (default)                                   everything, written to docs/bench.md
 *
 * Every measurement is printed with the load average beside it: on a shared
 * 2-core machine the numbers are pessimistic.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { runFleet, type FleetResult } from './fleet';
import { orchestrationOverhead } from './history';
import { readHistoryFile } from './read-history';
import { fleetTable, overheadTable } from './report';
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
    `N migrations started together against one worker process (real workflow code, recording activity doubles of ${activityMs} ms each, production worker options), on a Temporal dev server of their own (SQLite). Each runs to the switch-traffic checkpoint, all are approved together, all run to the end. WFT = workflow task, Scheduled → Completed, over every task of every history.`,
    '',
    fleetTable(results),
    '',
  ].join('\n');
}

function historySection(files: string[]): string {
  const runs = files.map((f) => ({ name: path.basename(f), report: orchestrationOverhead(readHistoryFile(f)) }));
  return [`## Orchestration overhead from event histories`, '', overheadTable(runs), ''].join('\n');
}

function header(): string {
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString()} (load average at the start: ${loadAverage()}). The machine is shared by several engineers: numbers measured under load are pessimistic.`,
    '',
  ].join('\n');
}

const program = new Command('bench').description('cpmigrate performance benchmarks');
const sizesOf = (s: string) => s.split(',').map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes: '${x}' is not a positive integer`);
  return n;
});
program
  .command('fleet')
  .description('N migrations started together on one worker with recording activity doubles')
  .option('--sizes <list>', 'fleet sizes', '50,100,200')
  .option('--activity-ms <ms>', 'duration of every activity double', '0')
  .action(async (o: { sizes: string; activityMs: string }) => {
    process.stdout.write(`${await fleetSection(sizesOf(o.sizes), Number(o.activityMs))}\n`);
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
  .description('every benchmark, written to docs/bench.md')
  .option('--sizes <list>', 'fleet sizes', '50,100,200')
  .option('--out <file>', 'where to write', path.join(ROOT, 'docs', 'bench.md'))
  .action(async (o: { sizes: string; out: string }) => {
    const doc = [header(), await fleetSection(sizesOf(o.sizes), 0)].join('\n');
    writeFileSync(o.out, doc);
    process.stdout.write(doc);
    log(`wrote ${o.out}`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
