/**
 * Where a migration's wall time went, read from its event history (the
 * proto-JSON form `temporal workflow show --output json` and historyToJSON
 * write; test/histories/* are in it):
 *
 * - workflow task latency: WorkflowTaskScheduled → Started (the task waited for
 *   a worker) → Completed (the worker ran the workflow code), per task;
 * - a timeline of the run where each instant is *activity* (an awaited activity
 *   is scheduled or running: scheduled → closed, retries and their backoff
 *   included), *operator* (the workflow waits for a signal or an update: a
 *   checkpoint approval, a resume), *timer* (a sleep) or *orchestration*
 *   (everything else: workflow tasks, the round trips between one activity's
 *   end and the next one's schedule). The cluster-lock keeper runs beside the
 *   whole migration and is not counted as covering anything.
 *
 * Orchestration overhead = orchestration / (wall − operator − timer).
 */

export interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

export interface JsonHistory {
  events: HistoryEvent[];
}

/** Activities that run beside the steps for the whole migration (nothing waits for them). */
export const BACKGROUND_ACTIVITIES: readonly string[] = ['clusterLockKeepAlive'];

const T = (e: HistoryEvent): number => Date.parse(e.eventTime);
const type = (e: HistoryEvent): string => e.eventType.replace(/^EVENT_TYPE_/, '');
const attrs = (e: HistoryEvent): Record<string, unknown> => {
  for (const [k, v] of Object.entries(e)) if (k.endsWith('EventAttributes') && v && typeof v === 'object') return v as Record<string, unknown>;
  return {};
};

export interface WorkflowTaskLatency {
  /** WorkflowTaskScheduled → WorkflowTaskCompleted, ms */
  total: number;
  /** Scheduled → Started: waiting for a worker to poll it */
  queued: number;
  /** Started → Completed: the worker running workflow code */
  run: number;
}

/** One entry per completed workflow task, in history order. */
export function workflowTaskLatencies(h: JsonHistory): WorkflowTaskLatency[] {
  const scheduled = new Map<string, number>();
  const started = new Map<string, number>();
  const out: WorkflowTaskLatency[] = [];
  for (const e of h.events) {
    const t = type(e);
    if (t === 'WORKFLOW_TASK_SCHEDULED') scheduled.set(e.eventId, T(e));
    else if (t === 'WORKFLOW_TASK_STARTED') started.set(String(attrs(e).scheduledEventId), T(e));
    else if (t === 'WORKFLOW_TASK_COMPLETED') {
      const id = String(attrs(e).scheduledEventId);
      const s = scheduled.get(id);
      const st = started.get(id);
      if (s === undefined || st === undefined) continue;
      out.push({ total: T(e) - s, queued: st - s, run: T(e) - st });
    }
  }
  return out;
}

export type Cause = 'activity' | 'operator' | 'timer' | 'orchestration';

export interface Segment {
  from: number;
  to: number;
  cause: Cause;
}

export interface OverheadReport {
  wallMs: number;
  byCause: Record<Cause, number>;
  /** orchestration / (wall − operator − timer) */
  overheadShare: number;
  activities: number;
  /** activities whose last attempt was not the first (their retries are inside "activity") */
  retried: number;
  /** the first workflow task, Scheduled → Completed: a worker that has just started bundles the workflow code then */
  firstTaskMs: number;
  /** the overhead share without that first task (a worker already running when the migration starts) */
  overheadShareAfterFirstTask: number;
  /** the longest orchestration segments, with the events around them (where to look for waste) */
  longestOrchestration: Array<{ ms: number; after: string; before: string }>;
}

const ACTIVITY_CLOSED = new Set(['ACTIVITY_TASK_COMPLETED', 'ACTIVITY_TASK_FAILED', 'ACTIVITY_TASK_TIMED_OUT', 'ACTIVITY_TASK_CANCELED']);
const WORKFLOW_CLOSED = new Set([
  'WORKFLOW_EXECUTION_COMPLETED',
  'WORKFLOW_EXECUTION_FAILED',
  'WORKFLOW_EXECUTION_TIMED_OUT',
  'WORKFLOW_EXECUTION_CANCELED',
  'WORKFLOW_EXECUTION_TERMINATED',
  'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
]);

/** Intervals by cause (they may overlap; activity wins, then operator, then timer). */
function intervals(h: JsonHistory): {
  start: number;
  end: number;
  by: Record<Exclude<Cause, 'orchestration'>, Array<[number, number]>>;
  activities: number;
  retried: number;
} {
  const ev = h.events;
  if (!ev.length) throw new Error('empty history');
  const first = ev[0] as HistoryEvent;
  if (type(first) !== 'WORKFLOW_EXECUTION_STARTED') throw new Error(`history does not start with WorkflowExecutionStarted (got ${first.eventType})`);
  const start = T(first);
  const closed = ev.find((e) => WORKFLOW_CLOSED.has(type(e)));
  const end = T(closed ?? (ev[ev.length - 1] as HistoryEvent));
  const by = { activity: [] as Array<[number, number]>, operator: [] as Array<[number, number]>, timer: [] as Array<[number, number]> };
  const scheduled = new Map<string, { at: number; background: boolean }>();
  let activities = 0;
  let retried = 0;
  let lastTaskCompleted: number | undefined;
  let wake: 'signal' | 'timer' | 'activity' | undefined;
  for (const e of ev) {
    const t = type(e);
    const a = attrs(e);
    if (t === 'ACTIVITY_TASK_SCHEDULED') {
      const name = String((a.activityType as { name?: string } | undefined)?.name ?? '');
      scheduled.set(e.eventId, { at: T(e), background: BACKGROUND_ACTIVITIES.includes(name) });
    } else if (t === 'ACTIVITY_TASK_STARTED') {
      if (Number(a.attempt ?? 1) > 1) retried += 1;
    } else if (ACTIVITY_CLOSED.has(t)) {
      const s = scheduled.get(String(a.scheduledEventId));
      if (s && !s.background) {
        by.activity.push([s.at, T(e)]);
        activities += 1;
        wake = 'activity';
      }
    } else if (t === 'WORKFLOW_EXECUTION_SIGNALED') wake ??= 'signal';
    else if (t === 'TIMER_FIRED') wake ??= 'timer';
    else if (t === 'WORKFLOW_TASK_COMPLETED') {
      lastTaskCompleted = T(e);
      wake = undefined;
    } else if (t === 'WORKFLOW_TASK_SCHEDULED' && lastTaskCompleted !== undefined) {
      // the workflow sat idle since its last task: what woke it says what it waited for.
      // Nothing recorded in between = an update (updates write no event before their task).
      const cause = wake === 'timer' ? 'timer' : wake === 'activity' ? undefined : 'operator';
      if (cause) by[cause].push([lastTaskCompleted, T(e)]);
      lastTaskCompleted = undefined;
    }
  }
  return { start, end, by, activities, retried };
}

/** The run cut into segments, each with the one cause that explains it. */
export function timeline(h: JsonHistory): Segment[] {
  const { start, end, by } = intervals(h);
  const points = new Set<number>([start, end]);
  for (const list of Object.values(by)) for (const [a, b] of list) for (const p of [a, b]) if (p > start && p < end) points.add(p);
  const sorted = [...points].sort((x, y) => x - y);
  const covers = (list: Array<[number, number]>, x: number) => list.some(([a, b]) => a <= x && x < b);
  const segments: Segment[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const from = sorted[i] as number;
    const to = sorted[i + 1] as number;
    const mid = from + (to - from) / 2;
    const cause: Cause = covers(by.activity, mid) ? 'activity' : covers(by.operator, mid) ? 'operator' : covers(by.timer, mid) ? 'timer' : 'orchestration';
    const last = segments[segments.length - 1];
    if (last && last.cause === cause && last.to === from) last.to = to;
    else segments.push({ from, to, cause });
  }
  return segments;
}

export function orchestrationOverhead(h: JsonHistory): OverheadReport {
  const { start, end, activities, retried } = intervals(h);
  const segments = timeline(h);
  const byCause: Record<Cause, number> = { activity: 0, operator: 0, timer: 0, orchestration: 0 };
  for (const s of segments) byCause[s.cause] += s.to - s.from;
  const wallMs = end - start;
  const busy = wallMs - byCause.operator - byCause.timer;
  const near = (x: number, dir: -1 | 1): string => {
    const evs = dir < 0 ? [...h.events].reverse() : h.events;
    const e = evs.find((ev) => (dir < 0 ? T(ev) <= x : T(ev) >= x));
    return e ? type(e) : '-';
  };
  const longestOrchestration = segments
    .filter((s) => s.cause === 'orchestration')
    .sort((a, b) => b.to - b.from - (a.to - a.from))
    .slice(0, 5)
    .map((s) => ({ ms: s.to - s.from, after: near(s.from, -1), before: near(s.to, 1) }));
  const firstTaskMs = workflowTaskLatencies(h)[0]?.total ?? 0;
  const after = Math.max(0, byCause.orchestration - firstTaskMs);
  return {
    wallMs,
    byCause,
    overheadShare: busy > 0 ? byCause.orchestration / busy : 0,
    activities,
    retried,
    firstTaskMs,
    overheadShareAfterFirstTask: busy - firstTaskMs > 0 ? after / (busy - firstTaskMs) : 0,
    longestOrchestration,
  };
}

/** CpmStep values that are no step: the gap between two steps, and the end states. */
const NOT_STEPS: readonly string[] = ['between-steps', 'completed', 'failed', 'aborted'];

/** The step each migration was on, from its CpmStep search-attribute upserts (searchAttributes on): [step, from, to]. */
export function stepSpans(h: JsonHistory): Array<{ step: string; from: number; to: number }> {
  const { end } = intervals(h);
  const marks: Array<{ step: string; at: number }> = [];
  for (const e of h.events) {
    if (type(e) !== 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES') continue;
    const fields = ((attrs(e).searchAttributes as { indexedFields?: Record<string, { data?: string }> } | undefined)?.indexedFields ?? {}) as Record<
      string,
      { data?: string }
    >;
    const data = fields.CpmStep?.data;
    if (!data) continue;
    const step = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;
    if (typeof step === 'string' && marks[marks.length - 1]?.step !== step) marks.push({ step, at: T(e) });
  }
  return marks.map((m, i) => ({ step: m.step, from: m.at, to: marks[i + 1]?.at ?? end })).filter((s) => !NOT_STEPS.includes(s.step));
}

/** Every awaited activity: type, the one-line summary the workflow gave it, scheduled → closed. */
export function activitySpans(h: JsonHistory): Array<{ type: string; summary: string; from: number; to: number }> {
  const scheduled = new Map<string, { type: string; summary: string; from: number }>();
  const out: Array<{ type: string; summary: string; from: number; to: number }> = [];
  for (const e of h.events) {
    const t = type(e);
    const a = attrs(e);
    if (t === 'ACTIVITY_TASK_SCHEDULED') {
      const name = String((a.activityType as { name?: string } | undefined)?.name ?? '');
      const data = (e.userMetadata as { summary?: { data?: string } } | undefined)?.summary?.data;
      let summary = name;
      if (data) {
        const s = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;
        if (typeof s === 'string') summary = s;
      }
      if (!BACKGROUND_ACTIVITIES.includes(name)) scheduled.set(e.eventId, { type: name, summary, from: T(e) });
    } else if (ACTIVITY_CLOSED.has(t)) {
      const s = scheduled.get(String(a.scheduledEventId));
      if (s) out.push({ ...s, to: T(e) });
    }
  }
  return out;
}
