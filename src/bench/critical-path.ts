/**
 * The critical path of a lab migration, step by step: its wall time (without
 * the operator's checkpoint waits), the waits the cluster certainly needed
 * (src/lib/waits.ts: a daemon from start to ready, etcd's reconfiguration
 * window, learner catch-up, the VIP moving, evictions — each up to the last
 * check that still found it not done) and everything else (SSH round trips,
 * poll intervals, key generation, orchestration).
 *
 * Inputs: the step spans and timeline of the event history, and the
 * "activity completed" lines of the worker logs (src/activities/liveness.ts).
 */
import type { WaitRecord } from '../lib/waits';
import type { Segment } from './history';

export interface ActivityLine {
  /** completion time, ms */
  at: number;
  ms: number;
  activityType: string;
  workflowId?: string;
  waits: WaitRecord[];
}

/** The "activity completed" / "activity failed" lines of a worker log (other lines are skipped). */
export function parseActivityLines(log: string): ActivityLine[] {
  const out: ActivityLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"msg":"activity ')) continue;
    let j: { ts?: string; msg?: string; ms?: number; activityType?: string; workflowId?: string; waits?: WaitRecord[] };
    try {
      j = JSON.parse(line) as typeof j;
    } catch {
      continue;
    }
    if ((j.msg !== 'activity completed' && j.msg !== 'activity failed') || !j.ts || typeof j.ms !== 'number') continue;
    out.push({
      at: Date.parse(j.ts),
      ms: j.ms,
      activityType: j.activityType ?? '?',
      ...(j.workflowId ? { workflowId: j.workflowId } : {}),
      waits: j.waits ?? [],
    });
  }
  return out;
}

export interface StepPath {
  step: string;
  /** the step's span minus operator and timer waits inside it */
  wallMs: number;
  /** Σ neededMs of the waits of its activities */
  unavoidableMs: number;
  /** Σ ms of those waits (needed + check latency + poll interval) */
  waitedMs: number;
  /** the biggest waits, "what: needed/took" */
  top: string[];
}

export function criticalPath(
  spans: ReadonlyArray<{ step: string; from: number; to: number }>,
  segments: readonly Segment[],
  lines: readonly ActivityLine[],
): StepPath[] {
  const excluded = (from: number, to: number) =>
    segments.filter((s) => s.cause === 'operator' || s.cause === 'timer').reduce((sum, s) => sum + Math.max(0, Math.min(to, s.to) - Math.max(from, s.from)), 0);
  return spans.map((sp) => {
    const mine = lines.filter((l) => {
      const mid = l.at - l.ms / 2;
      return mid >= sp.from && mid < sp.to;
    });
    const waits = mine.flatMap((l) => l.waits);
    return {
      step: sp.step,
      wallMs: sp.to - sp.from - excluded(sp.from, sp.to),
      unavoidableMs: waits.reduce((s, w) => s + w.neededMs, 0),
      waitedMs: waits.reduce((s, w) => s + w.ms, 0),
      top: [...waits]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 2)
        .map((w) => `${w.what}: ${(w.neededMs / 1000).toFixed(1)}/${(w.ms / 1000).toFixed(1)} s`),
    };
  });
}
