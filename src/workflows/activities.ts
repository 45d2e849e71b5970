/**
 * Activity proxies, one per timeout profile, with timeouts from the plan.
 * Validation and safety refusals are non-retryable by type name; everything
 * else retries with backoff.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
import type { Plan } from '../plan/schema';

export interface Proxies {
  /** probes and config pushes: seconds each */
  quick: MigrationActivities;
  /** waits (drain, etcd join/remove, rollouts, readiness): they heartbeat */
  long: MigrationActivities;
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
    quick: proxyActivities<MigrationActivities>({ startToCloseTimeout: t.quick, retry }),
    long: proxyActivities<MigrationActivities>({ startToCloseTimeout: t.long, heartbeatTimeout: t.heartbeat, retry }),
  };
}
