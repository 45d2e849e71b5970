/**
 * A migration's event history read back: every activity call by its summary
 * (the one-line `etcdJoinMember master-2` the workflow gives it), how it
 * ended, how often it completed, and which worker (identity `pid@host`)
 * started and completed it. The demo, the fault matrix and the lab tests read
 * histories through this.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export interface ActivityRun {
  summary: string;
  scheduledEventId: number;
  /** identities of the workers that started an attempt (ActivityTaskStarted is written when the attempt ends) */
  startedBy?: string;
  attempt?: number;
  completedBy?: string;
  completedAt?: Date;
  outcome: 'completed' | 'failed' | 'timed-out' | 'canceled' | 'open';
}

export interface HistorySummary {
  runs: ActivityRun[];
  /** summary → number of completed runs */
  completed: Map<string, number>;
  events: number;
}

const text = (p?: temporal.api.common.v1.IPayload | null) => (p?.data ? Buffer.from(p.data).toString('utf8').replace(/^"|"$/g, '') : '?');

export async function activityHistory(client: Client, workflowId: string, runId?: string): Promise<HistorySummary> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const { EventType } = temporal.api.enums.v1;
  const byScheduled = new Map<number, ActivityRun>();
  const tsOf = (e: temporal.api.history.v1.IHistoryEvent) =>
    e.eventTime?.seconds ? new Date(Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6)) : undefined;
  for (const e of history.events ?? []) {
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        byScheduled.set(Number(e.eventId), { summary: text(e.userMetadata?.summary), scheduledEventId: Number(e.eventId), outcome: 'open' });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        const r = byScheduled.get(Number(a?.scheduledEventId));
        if (r) {
          r.startedBy = a?.identity ?? undefined;
          r.attempt = a?.attempt ?? undefined;
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const a = e.activityTaskCompletedEventAttributes;
        const r = byScheduled.get(Number(a?.scheduledEventId));
        if (r) {
          r.outcome = 'completed';
          r.completedBy = a?.identity ?? undefined;
          r.completedAt = tsOf(e);
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const r = byScheduled.get(Number(e.activityTaskFailedEventAttributes?.scheduledEventId));
        if (r) r.outcome = 'failed';
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const r = byScheduled.get(Number(e.activityTaskTimedOutEventAttributes?.scheduledEventId));
        if (r) r.outcome = 'timed-out';
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const r = byScheduled.get(Number(e.activityTaskCanceledEventAttributes?.scheduledEventId));
        if (r) r.outcome = 'canceled';
        break;
      }
      default:
        break;
    }
  }
  const runs = [...byScheduled.values()];
  const completed = new Map<string, number>();
  for (const r of runs) if (r.outcome === 'completed') completed.set(r.summary, (completed.get(r.summary) ?? 0) + 1);
  return { runs, completed, events: history.events?.length ?? 0 };
}
