/** Membership changes retried while etcd says "not now" (unhealthy cluster, learner not in sync, leader changing). */
import { isRecoverableError } from 'etcd3';
import { sleep } from '../sleep';
import { waitTimer } from '../waits';
import { errorText, RECONFIG_RETRYABLE } from './client';

export function isRetryableReconfigError(err: unknown): boolean {
  const msg = errorText(err);
  if (RECONFIG_RETRYABLE.some((re) => re.test(msg))) return true;
  // connection trouble (endpoint restarting, leader election): try again
  return err instanceof Error && isRecoverableError(err) && !/not supported for learner/.test(msg);
}

export interface RetryOptions {
  /** give up (throw the last error) after this long */
  deadlineMs: number;
  /** default setTimeout; activities pass one that also stops on cancellation */
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (attempt: number, err: unknown, waitMs: number) => void;
  /** default isRetryableReconfigError */
  retryable?: (err: unknown) => boolean;
}

/**
 * Retry a membership change (add / promote / remove / move-leader) while the
 * server says "not now": backoff 250 ms x1.6 up to 2 s, until the deadline.
 */
export async function retryReconfig<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const nap = opts.sleep ?? sleep;
  const retryable = opts.retryable ?? isRetryableReconfigError;
  let wait = 250;
  const timer = waitTimer(`etcd reconfiguration: ${what}`);
  for (let attempt = 1; ; attempt++) {
    timer.check();
    try {
      const r = await fn();
      timer.done();
      return r;
    } catch (err) {
      const elapsed = Date.now() - started;
      timer.notYet();
      if (!retryable(err) || elapsed + wait > opts.deadlineMs) timer.done(false);
      if (!retryable(err)) throw err;
      if (elapsed + wait > opts.deadlineMs) {
        const e = new Error(`${what}: still refused after ${attempt} attempts in ${(elapsed / 1000).toFixed(1)}s: ${errorText(err)}`);
        (e as Error & { cause?: unknown }).cause = err;
        throw e;
      }
      opts.onRetry?.(attempt, err, wait);
      await nap(wait);
      wait = Math.min(2_000, Math.round(wait * 1.6));
    }
  }
}
