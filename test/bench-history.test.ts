/** The benchmark's history analysis (pure: no servers). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { orchestrationOverhead, stepSpans, timeline, workflowTaskLatencies, type HistoryEvent, type JsonHistory } from '../src/bench/history';
import { readHistoryFile } from '../src/bench/read-history';
import { marginalMemory } from '../src/bench/report';
import { percentile } from '../src/bench/stats';

const BASE = Date.parse('2026-12-02T00:00:00.000Z');
let id = 0;
function ev(ms: number, eventType: string, attributes: Record<string, unknown> = {}): HistoryEvent {
  id += 1;
  const key = `${eventType
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/_(.)/g, (_, c: string) => c.toUpperCase())}EventAttributes`;
  return { eventId: String(id), eventTime: new Date(BASE + ms).toISOString(), eventType: `EVENT_TYPE_${eventType}`, [key]: attributes };
}

/** A migration of two activities with an approval between them, the lock keeper beside it all. */
function syntheticHistory(wake: 'update' | 'signal' | 'timer'): JsonHistory {
  id = 0;
  const events: HistoryEvent[] = [];
  const push = (e: HistoryEvent) => (events.push(e), e.eventId);
  push(ev(0, 'WORKFLOW_EXECUTION_STARTED'));
  let wft = push(ev(0, 'WORKFLOW_TASK_SCHEDULED'));
  push(ev(10, 'WORKFLOW_TASK_STARTED', { scheduledEventId: wft }));
  push(ev(50, 'WORKFLOW_TASK_COMPLETED', { scheduledEventId: wft }));
  push(ev(50, 'ACTIVITY_TASK_SCHEDULED', { activityType: { name: 'clusterLockKeepAlive' } }));
  const a = push(ev(50, 'ACTIVITY_TASK_SCHEDULED', { activityType: { name: 'preflight' } }));
  push(ev(50, 'ACTIVITY_TASK_STARTED', { scheduledEventId: a, attempt: 1 }));
  push(ev(1050, 'ACTIVITY_TASK_COMPLETED', { scheduledEventId: a }));
  wft = push(ev(1050, 'WORKFLOW_TASK_SCHEDULED'));
  push(ev(1060, 'WORKFLOW_TASK_STARTED', { scheduledEventId: wft }));
  push(ev(1100, 'WORKFLOW_TASK_COMPLETED', { scheduledEventId: wft }));
  push(ev(1100, 'TIMER_STARTED'));
  // idle 1100 → 3100: woken by an update (no event), a signal or the timer
  if (wake === 'signal') push(ev(3100, 'WORKFLOW_EXECUTION_SIGNALED', { signalName: 'approve' }));
  if (wake === 'timer') push(ev(3100, 'TIMER_FIRED'));
  wft = push(ev(3100, 'WORKFLOW_TASK_SCHEDULED'));
  push(ev(3130, 'WORKFLOW_TASK_STARTED', { scheduledEventId: wft }));
  push(ev(3150, 'WORKFLOW_TASK_COMPLETED', { scheduledEventId: wft }));
  const b = push(ev(3150, 'ACTIVITY_TASK_SCHEDULED', { activityType: { name: 'drainNode' } }));
  push(ev(3150, 'ACTIVITY_TASK_STARTED', { scheduledEventId: b, attempt: 2 }));
  push(ev(4150, 'ACTIVITY_TASK_COMPLETED', { scheduledEventId: b }));
  wft = push(ev(4150, 'WORKFLOW_TASK_SCHEDULED'));
  push(ev(4160, 'WORKFLOW_TASK_STARTED', { scheduledEventId: wft }));
  push(ev(4200, 'WORKFLOW_TASK_COMPLETED', { scheduledEventId: wft }));
  push(ev(4200, 'WORKFLOW_EXECUTION_COMPLETED'));
  return { events };
}

describe('orchestration overhead from a history', () => {
  it('splits the wall time into activities, the operator wait and orchestration; the lock keeper covers nothing', () => {
    const r = orchestrationOverhead(syntheticHistory('update'));
    expect(r.wallMs).toBe(4200);
    expect(r.byCause).toEqual({ activity: 2000, operator: 2000, timer: 0, orchestration: 200 });
    expect(r.overheadShare).toBeCloseTo(200 / 2200, 6);
    expect(r.activities).toBe(2);
    expect(r.retried).toBe(1);
    expect(r.longestOrchestration.map((s) => s.ms)).toEqual([50, 50, 50, 50]);
    // the first workflow task (0 → 50) is a worker's start-up cost when it has just started
    expect(r.firstTaskMs).toBe(50);
    expect(r.overheadShareAfterFirstTask).toBeCloseTo(150 / 2150, 6);
  });

  it('an idle gap ended by a signal is the operator, by a fired timer a timer', () => {
    expect(orchestrationOverhead(syntheticHistory('signal')).byCause.operator).toBe(2000);
    const t = orchestrationOverhead(syntheticHistory('timer'));
    expect(t.byCause).toMatchObject({ timer: 2000, operator: 0, orchestration: 200 });
  });

  it('the timeline is contiguous, in order, and merges neighbours of one cause', () => {
    const segs = timeline(syntheticHistory('update'));
    expect(segs.map((s) => [s.from - BASE, s.to - BASE, s.cause])).toEqual([
      [0, 50, 'orchestration'],
      [50, 1050, 'activity'],
      [1050, 1100, 'orchestration'],
      [1100, 3100, 'operator'],
      [3100, 3150, 'orchestration'],
      [3150, 4150, 'activity'],
      [4150, 4200, 'orchestration'],
    ]);
  });

  it('workflow task latency per task: queued (Scheduled → Started) and run (Started → Completed)', () => {
    expect(workflowTaskLatencies(syntheticHistory('update'))).toEqual([
      { total: 50, queued: 10, run: 40 },
      { total: 50, queued: 10, run: 40 },
      { total: 50, queued: 30, run: 20 },
      { total: 50, queued: 10, run: 40 },
    ]);
  });

  it('refuses a history that does not start with WorkflowExecutionStarted', () => {
    const h = syntheticHistory('update');
    expect(() => orchestrationOverhead({ events: h.events.slice(1) })).toThrow(/WorkflowExecutionStarted/);
  });

  it('a recorded migration (test/histories/v4-plain-http): every millisecond has one cause, every task and activity counted', () => {
    const h = readHistoryFile(path.join(__dirname, 'histories', 'v4-plain-http.json.gz'));
    const r = orchestrationOverhead(h);
    const segs = timeline(h);
    const sum = Object.values(r.byCause).reduce((s, x) => s + x, 0);
    expect(sum).toBe(r.wallMs);
    expect(segs.every((s, i) => s.to > s.from && (i === 0 || segs[i - 1]?.to === s.from))).toBe(true);
    // 99 activities scheduled; the lock keeper never closes (cancelled at the end): 98 awaited ones
    expect(r.activities).toBe(98);
    expect(r.retried).toBe(0);
    // the recorded run approved its checkpoints by update: that wait is the operator's, not overhead
    expect(r.byCause.operator).toBeGreaterThan(0);
    expect(r.overheadShare).toBeCloseTo(r.byCause.orchestration / (r.wallMs - r.byCause.operator - r.byCause.timer), 9);
    expect(workflowTaskLatencies(h)).toHaveLength(104);
    // recorded without search attributes: no CpmStep upserts, no step spans
    expect(stepSpans(h)).toEqual([]);
  });

  it('a real lab migration (test/bench-histories: the e2e run, worker killed once): its first task is the new worker starting', () => {
    const h = readHistoryFile(path.join(__dirname, 'bench-histories', 'lab-e2e-worker-killed.json.gz'));
    const r = orchestrationOverhead(h);
    expect(Object.values(r.byCause).reduce((a, b) => a + b, 0)).toBe(r.wallMs);
    expect(r.activities).toBe(104);
    expect(r.retried).toBe(1); // the activity the killed worker had in flight
    // the demo started the worker and the migration together: ~10 s of bundling before the first task completed
    expect(r.firstTaskMs).toBeGreaterThan(5_000);
    expect(r.longestOrchestration[0]?.after).toBe('WORKFLOW_EXECUTION_STARTED');
    expect(r.overheadShareAfterFirstTask).toBeLessThan(r.overheadShare);
    const spans = stepSpans(h);
    expect(spans[0]?.step).toBe('preflight');
    expect(spans.map((s) => s.step)).toContain('vip-failover');
    expect(spans.some((s) => s.step === 'between-steps')).toBe(false);
  });

  it('step spans come from the CpmStep search-attribute upserts; between-steps and the end state are no step', () => {
    id = 100;
    const sa = (step: string) => ({ searchAttributes: { indexedFields: { CpmStep: { data: Buffer.from(JSON.stringify(step)).toString('base64') } } } });
    const h: JsonHistory = {
      events: [
        ev(0, 'WORKFLOW_EXECUTION_STARTED'),
        ev(5, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', sa('preflight')),
        ev(900, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', sa('preflight')),
        ev(1000, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', sa('etcd-join/master-1')),
        ev(2900, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', sa('between-steps')),
        ev(2950, 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', sa('completed')),
        ev(3000, 'WORKFLOW_EXECUTION_COMPLETED'),
      ],
    };
    expect(stepSpans(h).map((s) => [s.step, s.from - BASE, s.to - BASE])).toEqual([
      ['preflight', 5, 1000],
      ['etcd-join/master-1', 1000, 2900],
    ]);
  });
});

describe('benchmark statistics', () => {
  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(xs, 101)).toThrow(/0\.\.100/);
  });

  it('marginal memory is the least-squares slope of parked RSS over fleet size; stalled runs are left out', () => {
    const MiB = 1024 * 1024;
    const rows = [
      { migrations: 50, rssParked: 300 * MiB },
      { migrations: 100, rssParked: 350 * MiB },
      { migrations: 200, rssParked: 450 * MiB },
      { migrations: 400, rssParked: 10 * MiB, stalled: 'x' },
    ];
    expect(marginalMemory(rows)).toBeCloseTo(MiB, 3);
    expect(marginalMemory(rows.slice(0, 1))).toBeUndefined();
  });
});
