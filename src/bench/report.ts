/** The benchmark's tables, in Markdown (printed as is and written to docs/bench.md). */
import type { FleetResult } from './fleet';
import type { OverheadReport } from './history';
import { mib, millis, seconds } from './stats';
import { markdownTable } from './table';

export function fleetTable(results: readonly FleetResult[]): string {
  const rows = results.map((r) => [
    String(r.migrations),
    `${r.completed}/${r.migrations}${r.stalled ? ` (STALLED: ${r.stalled})` : ''}`,
    seconds(r.totalMs),
    seconds(r.toCheckpointMs),
    seconds(r.afterApprovalMs),
    String(r.workflowTasks),
    millis(r.wftP50),
    millis(r.wftP99),
    millis(r.wftQueuedP99),
    mib(r.rssStart),
    mib(r.rssParked),
    mib(r.rssEnd),
    `${(r.bytesPerMigration / 1024).toFixed(0)} KiB`,
    r.loadBefore.replace(/ on .*/, ''),
  ]);
  const table = markdownTable(
    ['migrations', 'completed', 'total', 'to checkpoint', 'after approval', 'workflow tasks', 'WFT p50', 'WFT p99', 'WFT queued p99', 'RSS ready', `RSS all parked`, 'RSS end', 'RSS per migration', 'load (1/5/15 min)'],
    rows,
  );
  const slope = marginalMemory(results);
  return slope === undefined ? table : `${table}\n\nMarginal memory per migration (RSS with all parked, from ${results[0]?.migrations} to ${results[results.length - 1]?.migrations}): ${(slope / 1024).toFixed(0)} KiB.`;
}

/** Least-squares slope of "RSS with all parked" over the fleet size: the memory one more parked migration costs. */
export function marginalMemory(results: readonly Pick<FleetResult, 'migrations' | 'rssParked' | 'stalled'>[]): number | undefined {
  const ok = results.filter((r) => !r.stalled && Number.isFinite(r.rssParked));
  if (ok.length < 2) return undefined;
  const mx = ok.reduce((s, r) => s + r.migrations, 0) / ok.length;
  const my = ok.reduce((s, r) => s + r.rssParked, 0) / ok.length;
  const num = ok.reduce((s, r) => s + (r.migrations - mx) * (r.rssParked - my), 0);
  const den = ok.reduce((s, r) => s + (r.migrations - mx) ** 2, 0);
  return den === 0 ? undefined : num / den;
}

export function overheadTable(runs: ReadonlyArray<{ name: string; report: OverheadReport; load?: string }>): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return markdownTable(
    ['run', 'wall', 'activities', 'operator (checkpoints)', 'timers', 'orchestration', 'overhead share', 'activity calls (retried)', 'load'],
    runs.map(({ name, report: r, load }) => [
      name,
      seconds(r.wallMs),
      seconds(r.byCause.activity),
      seconds(r.byCause.operator),
      seconds(r.byCause.timer),
      seconds(r.byCause.orchestration),
      pct(r.overheadShare),
      `${r.activities} (${r.retried})`,
      load ?? '-',
    ]),
  );
}
