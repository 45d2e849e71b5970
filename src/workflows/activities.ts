/**
 * Activity proxies, one per timeout profile, with timeouts from the plan.
 * Validation and safety refusals are non-retryable by type name; everything
 * else retries with backoff. Every call carries a one-line summary
 * ("etcdJoinMember master-2") so the event history reads like the runbook.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
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

export function activityProxies(t: Plan['timeouts']): Proxies {
  const retry = {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: t.maxAttempts,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  };
  return {
    // every activity heartbeats (src/activities/liveness.ts): a dead worker is noticed after one heartbeat timeout on both profiles
    quick: summarized({ startToCloseTimeout: t.quick, heartbeatTimeout: t.heartbeat, retry }),
    long: summarized({ startToCloseTimeout: t.long, heartbeatTimeout: t.heartbeat, retry }),
  };
}
