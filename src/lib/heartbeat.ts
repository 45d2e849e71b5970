/** The running activity's context (heartbeat, cancellation, log, workflow): no-ops outside an activity (tests, CLI). */
import { Context } from '@temporalio/activity';

const lastDetails = new WeakMap<Context, unknown>();

/** The details of the running activity's last beat() (re-sent by the liveness ticker). */
export function lastBeatDetails(): unknown {
  try {
    return lastDetails.get(Context.current());
  } catch {
    return undefined;
  }
}

/** Heartbeat when running as a Temporal activity; a no-op when called directly (tests, CLI). */

export function beat(details?: unknown): void {
  try {
    const ctx = Context.current();
    lastDetails.set(ctx, details);
    ctx.heartbeat(details);
  } catch {
    // not inside an activity
  }
}

/** Resolves when the activity is cancelled; never resolves outside an activity. */
export function cancelled(): Promise<never> {
  try {
    return Context.current().cancelled;
  } catch {
    return new Promise<never>(() => undefined);
  }
}

export function activityLog(): { info(msg: string, attrs?: Record<string, unknown>): void; warn(msg: string, attrs?: Record<string, unknown>): void } {
  try {
    return Context.current().log;
  } catch {
    return { info: () => undefined, warn: () => undefined };
  }
}

/** The workflow execution that scheduled the running activity; undefined outside an activity (tests, CLI) or without one. */
export function workflowExecutionOfActivity(): { workflowId: string; runId: string } | undefined {
  let we: { workflowId: string; runId: string } | undefined;
  try {
    we = Context.current().info.workflowExecution;
  } catch {
    return undefined; // not inside an activity
  }
  return we?.workflowId && we.runId ? { workflowId: we.workflowId, runId: we.runId } : undefined;
}
