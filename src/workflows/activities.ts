/**
 * Activity proxies, one per timeout profile, with timeouts from the plan.
 * Validation and safety refusals are non-retryable by type name; everything
 * else retries with backoff. Every call carries a one-line summary
 * ("etcdJoinMember master-2") so the event history reads like the runbook.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
import { durationMs } from '../plan/duration';
import type { Plan } from '../plan/schema';

export interface Proxies {
  /** probes and config pushes: seconds each */
  quick: MigrationActivities;
  /** waits (drain, etcd join/remove, rollouts, readiness) */
  long: MigrationActivities;
}

/** "name arg1 arg2" without the plan; arrays joined; at most 120 characters. */
export function callSummary(name: string, args: unknown[]): string {
  const parts = args.slice(1).map((a) => (Array.isArray(a) ? a.join(',') : typeof a === 'string' ? a : ''));
  const text = [name, ...parts.filter(Boolean)].join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function summarized(options: ActivityOptions): MigrationActivities {
  const raw = proxyActivities<MigrationActivities>(options);
  return new Proxy(raw, {
    get(target, prop) {
      const fn = target[prop as keyof MigrationActivities];
      if (typeof prop !== 'string' || typeof fn !== 'function') return fn;
      return (...args: unknown[]) =>
        (fn as unknown as { executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<unknown> }).executeWithOptions(
          { ...options, summary: callSummary(prop, args) },
          args,
        );
    },
  });
}

/**
 * The longest wait between two attempts: 30 s, but never more than the
 * heartbeat timeout, so that an activity whose worker died (noticed after one
 * heartbeat timeout) is retried within another — recovery after a worker death
 * is at most twice the heartbeat timeout even when the same activity lost
 * several workers in a row (each loss is an attempt, and backoff doubles).
 */
const INITIAL_RETRY_MS = 2_000;

export function maxRetryIntervalMs(t: Plan['timeouts']): number {
  return Math.max(INITIAL_RETRY_MS, Math.min(30_000, durationMs(t.heartbeat)));
}

export function activityProxies(t: Plan['timeouts']): Proxies {
  const retry = {
    initialInterval: INITIAL_RETRY_MS,
    backoffCoefficient: 2,
    maximumInterval: maxRetryIntervalMs(t),
    maximumAttempts: t.maxAttempts,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  };
  return {
    // every activity heartbeats (src/activities/liveness.ts): a dead worker is noticed after one heartbeat timeout on both profiles
    quick: summarized({ startToCloseTimeout: t.quick, heartbeatTimeout: t.heartbeat, retry }),
    long: summarized({ startToCloseTimeout: t.long, heartbeatTimeout: t.heartbeat, retry }),
  };
}
