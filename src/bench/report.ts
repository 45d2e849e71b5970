/** The benchmark's tables, in Markdown (printed as is and written to docs/bench.md). */
import type { GapCause } from './availability';
import type { DrainBench } from './drain';
import type { FleetResult } from './fleet';
import type { LabRun } from './lab';
import { stepSpans, timeline, type JsonHistory, type OverheadReport } from './history';
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
    Number.isFinite(r.cpuMsPerWorkflowTask) ? `${r.cpuMsPerWorkflowTask.toFixed(1)} ms` : '-',
    r.loadBefore.replace(/ on .*/, ''),
  ]);
  const table = markdownTable(
    [
      'migrations',
      'completed',
      'total',
      'to checkpoint',
      'after approval',
      'workflow tasks',
      'WFT p50',
      'WFT p99',
      'WFT queued p99',
      'RSS ready',
      `RSS all parked`,
      'RSS end',
      'RSS per migration',
      'worker CPU per WFT',
      'load (1/5/15 min)',
    ],
    rows,
  );
  const slope = marginalMemory(results);
  return slope === undefined
    ? table
    : `${table}\n\nMarginal memory per migration (RSS with all parked, from ${results[0]?.migrations} to ${results[results.length - 1]?.migrations}): ${(slope / 1024).toFixed(0)} KiB.`;
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
  return markdownTable(
    [
      'run',
      'wall',
      'activities',
      'operator (checkpoints)',
      'timers',
      'orchestration',
      'overhead share',
      'first workflow task',
      'overhead without it',
      'activity calls (retried)',
      'load',
    ],
    runs.map(({ name, report: r, load }) => [
      name,
      seconds(r.wallMs),
      seconds(r.byCause.activity),
      seconds(r.byCause.operator),
      seconds(r.byCause.timer),
      seconds(r.byCause.orchestration),
      pct(r.overheadShare),
      seconds(r.firstTaskMs),
      pct(r.overheadShareAfterFirstTask),
      `${r.activities} (${r.retried})`,
      load ?? '-',
    ]),
  );
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** One row per lab migration: time, overhead, critical path ratio, API availability. */
export function labRunsTable(runs: readonly LabRun[]): string {
  const rows = runs.map((r) => {
    const wall = r.steps.reduce((s, x) => s + x.wallMs, 0);
    const needed = r.steps.reduce((s, x) => s + x.unavoidableMs, 0);
    const p = r.probe;
    return [
      String(r.run),
      r.outcome === 'completed' ? 'completed' : `${r.outcome}: ${(r.error ?? '').slice(0, 80)}`,
      seconds(r.migrationMs),
      `${pct(r.overhead.overheadShare)} (${pct(r.overhead.overheadShareAfterFirstTask)} after the first task)`,
      seconds(needed),
      seconds(wall),
      needed > 0 ? `${(wall / needed).toFixed(2)} ×` : '-',
      `${r.availability.longestGapMs} ms (${r.availability.longestGapCause ?? '-'})`,
      `${p.failedReads}/${p.failedWrites}`,
      `${p.failedReadsAfterRetry}/${p.failedWritesAfterRetry}`,
      String(p.sent),
      String(r.leaderChanges),
      `${r.vipNoHolderMaxMs} ms`,
      r.violations.length ? `UNSAFE: ${r.violations.join('; ')}` : 'safe',
      r.loadBefore.replace(/ on .*/, ''),
    ];
  });
  return markdownTable(
    [
      'run',
      'outcome',
      'migration',
      'orchestration overhead',
      'unavoidable waits',
      'wall (no checkpoints)',
      'wall / unavoidable',
      'longest API gap (cause)',
      'failed reads/writes',
      'after one retry',
      'probe requests',
      'etcd leader changes',
      'longest VIP with no holder',
      'monitor',
      'load (1/5/15 min)',
    ],
    rows,
  );
}

/** The critical path of one run, step by step. */
export function stepTable(r: LabRun): string {
  return markdownTable(
    ['step', 'wall (no checkpoints)', 'unavoidable waits', 'waited (incl. poll latency)', 'everything else', 'biggest waits: needed/took'],
    r.steps.map((s) => [
      s.step,
      seconds(s.wallMs),
      seconds(s.unavoidableMs),
      seconds(s.waitedMs),
      seconds(Math.max(0, s.wallMs - s.unavoidableMs)),
      s.top.join('; ') || '-',
    ]),
  );
}

/** API gaps of >= 100 ms over all runs, by cause: how many, the longest, and what it was. */
export function gapCauseTable(runs: readonly LabRun[]): string {
  const all = new Map<GapCause, { count: number; maxMs: number; detail: string; run: number }>();
  for (const r of runs) {
    for (const [cause, v] of Object.entries(r.availability.byCause) as Array<[GapCause, { count: number; maxMs: number; detail: string }]>) {
      const c = all.get(cause) ?? { count: 0, maxMs: 0, detail: '', run: r.run };
      c.count += v.count;
      if (v.maxMs > c.maxMs) Object.assign(c, { maxMs: v.maxMs, detail: v.detail, run: r.run });
      all.set(cause, c);
    }
  }
  return markdownTable(
    ['cause', 'gaps >= 100 ms', 'longest', 'longest was (run)'],
    [...all.entries()]
      .sort((a, b) => b[1].maxMs - a[1].maxMs)
      .map(([cause, c]) => [cause, String(c.count), `${c.maxMs} ms`, `${c.detail.slice(0, 120)} (run ${c.run})`]),
  );
}

/** kubectl drain against cpmigrate's drain on the same node, pods and apiserver. */
export function drainTable(d: DrainBench): string {
  return markdownTable(
    ['tool', `drain ${d.node} (${d.pods} pods, 10 PDBs)`, 'what happened', 'load (1/5/15 min)'],
    d.runs.map((r) => [r.tool, seconds(r.ms), r.detail.slice(0, 200), r.load.replace(/ on .*/, '')]),
  );
}

/** Per step of one history: its span, and how much of it was activities, checkpoint waits and orchestration. */
export function historyStepTable(h: JsonHistory): string {
  const segs = timeline(h);
  const inside = (from: number, to: number, cause: string) =>
    segs.filter((x) => x.cause === cause).reduce((a, x) => a + Math.max(0, Math.min(to, x.to) - Math.max(from, x.from)), 0);
  return markdownTable(
    ['step', 'span', 'activities', 'checkpoint wait', 'orchestration'],
    stepSpans(h).map((s) => [
      s.step,
      seconds(s.to - s.from),
      seconds(inside(s.from, s.to, 'activity')),
      seconds(inside(s.from, s.to, 'operator')),
      `${(inside(s.from, s.to, 'orchestration') / 1000).toFixed(2)} s`,
    ]),
  );
}
