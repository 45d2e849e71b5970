/** Heartbeat when running as a Temporal activity; a no-op when called directly (tests, CLI). */
import { Context } from '@temporalio/activity';

export function beat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
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
