/**
 * The cluster lock from the workflow's side: taken in preflight, kept alive
 * by a heartbeating activity beside the migration, released at the end, on
 * abort and after a rollback. The activities check it before every change
 * themselves (src/activities/lock.ts), so the workflow only owns its life.
 */
import { ActivityFailure, CancellationScope, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/contract';
import { NON_RETRYABLE_ERROR_TYPES } from '../errors';
import type { Plan } from '../plan/schema';

export class ClusterLock {
  held = false;
  /** why the keeper stopped, if it failed (e.g. another migration took the lock) */
  problem?: string;
  private keeperScope?: CancellationScope;
  private keeper?: Promise<void>;
  private readonly quick: MigrationActivities;
  private readonly keep: MigrationActivities;

  constructor(private readonly plan: Plan) {
    const t = plan.timeouts;
    const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_TYPES];
    // heartbeating like every profile: a worker that dies here is noticed after the heartbeat timeout, not the start-to-close one
    this.quick = proxyActivities<MigrationActivities>({
      startToCloseTimeout: t.quick,
      heartbeatTimeout: t.heartbeat,
      retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: t.maxAttempts, nonRetryableErrorTypes },
    });
    // as long as the migration: retried without limit (a worker restart), heartbeating
    this.keep = proxyActivities<MigrationActivities>({
      startToCloseTimeout: '365d',
      heartbeatTimeout: t.heartbeat,
      retry: { initialInterval: '2s', maximumInterval: '30s', nonRetryableErrorTypes },
    });
  }

  /** Take the lock (LockHeldError naming the holder when another migration has it) and start the keeper. */
  async take(): Promise<string> {
    const r = await this.quick.clusterLockAcquire(this.plan);
    this.held = true;
    this.keeperScope = new CancellationScope();
    this.keeper = this.keeperScope
      .run(() => this.keep.clusterLockKeepAlive(this.plan))
      .then(
        () => undefined,
        (e: unknown) => {
          if (isCancellation(e)) return;
          this.problem = ((e as ActivityFailure).cause ?? (e as Error)).message;
          log.error('cluster lock keeper stopped; the next change re-checks the lock', { error: this.problem });
        },
      );
    return r.summary;
  }

  /** Stop the keeper and release; never throws (a failed release is logged: the lease expires by itself). */
  async release(): Promise<string | undefined> {
    if (!this.held) return undefined;
    this.held = false;
    return CancellationScope.nonCancellable(async () => {
      this.keeperScope?.cancel();
      await this.keeper;
      try {
        return (await this.quick.clusterLockRelease(this.plan)).summary;
      } catch (e) {
        const why = ((e as ActivityFailure).cause ?? (e as Error)).message;
        log.error('cluster lock release failed; its lease expires by itself', { error: why });
        return `lock release failed (${why}); its lease expires by itself`;
      }
    });
  }
}
