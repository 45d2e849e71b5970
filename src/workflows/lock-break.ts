/**
 * breakClusterLock: `cpmigrate lock break` as a workflow, so breaking a
 * stale lock is an explicit act recorded in Temporal (who, why, what was
 * held: this workflow's input and result) and in the cluster's etcd (an
 * audit record). The activity refuses while the holder still runs.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/contract';
import type { LockBreakResult } from '../activities/types';
import { NON_RETRYABLE_ERROR_TYPES, PlanInvalidFailure } from '../errors';
import { checkPlan } from '../plan/validate-pure';
import type { Plan } from '../plan/schema';

export interface BreakLockInput {
  plan: Plan;
  by: string;
  reason: string;
}

export async function breakClusterLock(input: BreakLockInput): Promise<LockBreakResult> {
  const checked = checkPlan(input.plan, { runtimeChecks: true });
  if (!checked.ok) throw new PlanInvalidFailure(`invalid plan: ${checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  if (!input.reason?.trim()) throw new PlanInvalidFailure('breaking a lock needs a reason (it is recorded)');
  const { clusterLockBreak } = proxyActivities<MigrationActivities>({
    startToCloseTimeout: checked.plan.timeouts.quick,
    heartbeatTimeout: checked.plan.timeouts.heartbeat,
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
  });
  return clusterLockBreak(checked.plan, { by: input.by || 'unknown', reason: input.reason.trim() });
}
