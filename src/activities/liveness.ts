/**
 * Every activity heartbeats, whatever it is doing: while an activity runs, a
 * ticker re-sends its last heartbeat details every second (the SDK throttles
 * what reaches the server to 80 % of the heartbeat timeout). So a worker that
 * dies mid-activity is noticed after one heartbeat timeout on every profile,
 * not after the activity's whole start-to-close timeout — and a hung command is
 * still bounded by start-to-close and its own timeout.
 *
 * It also writes one JSON line per activity start and end to the worker's
 * stdout (attempt, duration), which is how the fault-matrix runner measures
 * recovery after a worker death. The completed line carries the waits the
 * attempt recorded (src/lib/waits.ts), which `npm run bench` reads.
 */
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { collectWaits } from '../lib/waits';
import { lastBeatDetails } from '../lib/heartbeat';

const TICK_MS = 1_000;

function line(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), level: 'info', ...fields })}\n`);
}

export const livenessInterceptor: ActivityInterceptorsFactory = (ctx) => {
  const inbound: ActivityInboundCallsInterceptor = {
    async execute(input, next) {
      const { activityType, attempt, activityId, workflowExecution } = ctx.info;
      const t0 = Date.now();
      line({ msg: 'activity started', activityType, activityId, attempt, workflowId: workflowExecution?.workflowId, pid: process.pid });
      const tick = setInterval(() => ctx.heartbeat(lastBeatDetails()), TICK_MS);
      const { result, waits } = collectWaits(() => next(input));
      try {
        const out = await result;
        line({
          msg: 'activity completed',
          activityType,
          activityId,
          attempt,
          ms: Date.now() - t0,
          workflowId: workflowExecution?.workflowId,
          ...(waits.length ? { waits } : {}),
        });
        return out;
      } catch (err) {
        line({
          msg: 'activity failed',
          activityType,
          activityId,
          attempt,
          ms: Date.now() - t0,
          workflowId: workflowExecution?.workflowId,
          error: (err as Error).message?.slice(0, 300),
          ...(waits.length ? { waits } : {}),
        });
        throw err;
      } finally {
        clearInterval(tick);
      }
    },
  };
  return { inbound };
};
