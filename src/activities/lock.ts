/**
 * The cluster lock as activities (see src/lib/etcd-lock.ts for the protocol).
 * The holder is the workflow execution that runs the activity (Temporal's
 * activity info), never an argument: a workflow cannot claim another's lock.
 *
 *  - clusterLockAcquire: in preflight, before any checkpoint or change.
 *  - clusterLockKeepAlive: runs beside the migration (heartbeating), refreshing
 *    the lease until cancelled; it never re-creates a lapsed key.
 *  - clusterLockRelease: at the end, on abort, after a rollback.
 *  - clusterLockBreak: `cpmigrate lock break`: only when the holder workflow no
 *    longer runs; writes an audit record.
 *  - withLockGuard: every mutating activity first checks (and refreshes) the lock.
 */
import { Context } from '@temporalio/activity';
import { LockHolderAliveError } from '../errors';
import { discoverMembers, etcdAccess, withEtcdClient, type EtcdAccess } from '../lib/etcd';
import { sleep } from '../lib/sleep';
import { failpoint } from '../lib/failpoint';
import { breakLock, describeHolder, ensureLock, readLock, releaseLock, renewLock, takeLock, type LockHolder } from '../lib/etcd-lock';
import type { Plan } from '../plan/schema';
import { activityLog, beat, cancelled, workflowExecutionOfActivity } from '../lib/heartbeat';
import type { LockBreakResult, StepOutcome } from './types';

export interface LockDeps {
  /** lease TTL in seconds (CPM_LOCK_TTL_SECONDS, default 120): how long a lock outlives its last renewal */
  ttlSeconds?: number;
}

/** Activities that change the cluster or its hosts: each checks the lock first. */
export const MUTATING_ACTIVITIES = [
  'drainNode',
  'labelNode',
  'taintNode',
  'uncordonNode',
  'patchCalicoEtcdEndpoints',
  'rolloutRestart',
  'setExporterEndpoints',
  'etcdSnapshot',
  'etcdJoinMember',
  'etcdAbandonJoin',
  'etcdRemoveMember',
  'etcdRewriteConfig',
  'copyPki',
  'reissueApiserverCert',
  'issueEtcdMemberCerts',
  'configureApiserver',
  'configureApiserverLb',
  'configureControllerManagerScheduler',
  'startComponent',
  'stopComponent',
  'configureKeepalived',
  'fenceOldMaster',
  'applyClientFix',
  'restartClient',
  'revertClientFix',
] as const;

/** Activities that only read (or are the lock itself): not guarded. test/lock-guard.test.ts keeps both lists complete. */
export const UNGUARDED_ACTIVITIES = [
  'clusterLockAcquire',
  'clusterLockKeepAlive',
  'clusterLockRelease',
  'clusterLockBreak',
  'etcdHealth',
  'etcdClientURLs',
  'waitComponentHealthy',
  'verifyVip',
  'inventoryOldMasterRefs',
  'checkpointEvidence',
  'waitNodeReady',
  'preflight',
] as const;

export function lockTtlSeconds(env = process.env): number {
  const n = Number(env.CPM_LOCK_TTL_SECONDS ?? 120);
  return Number.isInteger(n) && n >= 2 ? n : 120;
}

/** Every client URL of the plan: the lock lives wherever the cluster's etcd is, before, during and after the move. */
function seeds(plan: Plan): string[] {
  return [...plan.oldMasters, ...plan.newMasters].map((h) => h.etcd.clientURL);
}

function holderOrThrow(): LockHolder {
  const h = workflowExecutionOfActivity();
  if (!h) throw new Error('the cluster lock is held by a workflow execution: run this as an activity');
  return h;
}

export function createLockActivities(deps: LockDeps = {}) {
  const ttl = deps.ttlSeconds ?? lockTtlSeconds();
  const renewEveryMs = Math.min(30_000, Math.max(500, (ttl * 1000) / 4));
  // the started voters only (a member not started yet, or a learner, would refuse)
  const withClient = async <T>(plan: Plan, fn: (c: Parameters<Parameters<typeof withEtcdClient>[2]>[0]) => Promise<T>): Promise<T> => {
    const access: EtcdAccess = etcdAccess(plan);
    const { endpoints } = await discoverMembers(access, seeds(plan));
    return withEtcdClient(access, endpoints, fn);
  };

  const lock = {
    async clusterLockAcquire(plan: Plan): Promise<StepOutcome> {
      const holder = holderOrThrow();
      const r = await withClient(plan, (c) => takeLock(c, plan.cluster, holder, ttl));
      failpoint('lock.acquire.after-put');
      return {
        changed: r.how === 'taken',
        summary: `lock /cpmigrate/lock/${plan.cluster} ${r.how === 'taken' ? 'taken' : 'already held'} by ${holder.workflowId} (lease ${ttl}s)`,
      };
    },

    async clusterLockKeepAlive(plan: Plan): Promise<StepOutcome> {
      const holder = holderOrThrow();
      const stop = cancelled();
      let renewals = 0;
      for (;;) {
        const state = await withClient(plan, (c) => renewLock(c, plan.cluster, holder));
        if (state === 'renewed') renewals += 1;
        else
          activityLog().warn('cluster lock lapsed (its lease expired while no worker renewed it); the next change takes it again', { cluster: plan.cluster });
        const until = Date.now() + renewEveryMs;
        while (Date.now() < until) {
          beat({ renewals, state });
          await Promise.race([sleep(Math.min(1_000, until - Date.now())), stop]);
        }
      }
    },

    async clusterLockRelease(plan: Plan): Promise<StepOutcome> {
      const holder = holderOrThrow();
      const r = await withClient(plan, (c) => releaseLock(c, plan.cluster, holder));
      failpoint('lock.release.after-delete');
      return {
        changed: r === 'released',
        summary:
          r === 'released'
            ? `lock of ${plan.cluster} released`
            : r === 'absent'
              ? `lock of ${plan.cluster} was not held`
              : `lock of ${plan.cluster} belongs to another migration: left alone`,
      };
    },

    /** Break a lock whose holder workflow no longer runs; recorded in etcd (and in this activity's workflow history). */
    async clusterLockBreak(plan: Plan, req: { by: string; reason: string }): Promise<LockBreakResult> {
      const st = await withClient(plan, (c) => readLock(c, plan.cluster));
      if (!st.holder) return { summary: `no lock held on ${plan.cluster}: nothing to break` };
      const holder = st.holder;
      const desc = await Context.current()
        .client.workflow.getHandle(holder.workflowId, holder.runId)
        .describe()
        .catch((e: Error) => {
          if (e.name === 'WorkflowNotFoundError') return undefined;
          throw e;
        });
      if (desc?.status.name === 'RUNNING') {
        throw new LockHolderAliveError(
          `refusing to break the lock of ${plan.cluster}: its holder ${describeHolder(holder)} is still running; abort it (cpmigrate abort ${holder.workflowId}) instead`,
        );
      }
      const at = new Date().toISOString();
      const r = await withClient(plan, (c) => breakLock(c, st, { holder, by: req.by, reason: req.reason, at, breaker: workflowExecutionOfActivity() }));
      failpoint('lock.break.after-delete');
      if (!r.broken) throw new Error(`the lock of ${plan.cluster} changed while breaking it (was ${describeHolder(holder)}): look again`);
      return {
        summary: `broke the lock of ${plan.cluster} held by ${describeHolder(holder)} (${desc ? desc.status.name.toLowerCase() : 'workflow not found'}); recorded at ${r.recordKey}`,
        broken: holder,
        recordKey: r.recordKey,
      };
    },
  };

  /** The check before a change: ours → refreshed; lapsed → taken again; another migration's → LockHeldError. */
  const ensure = async (plan: Plan): Promise<void> => {
    const holder = workflowExecutionOfActivity();
    if (!holder) return; // called directly (a test or tool), not by a migration
    const r = await withClient(plan, (c) => ensureLock(c, plan.cluster, holder, ttl));
    if (r.how === 'retaken')
      activityLog().warn('cluster lock was not held (lease lapsed, or a migration started before the lock existed): taken again', { cluster: plan.cluster });
  };
  return { lock, ensure };
}

/** Wrap the mutating activities so each checks the cluster lock before it does anything. */
export function withLockGuard<T extends object>(activities: T, ensure: (plan: Plan) => Promise<void>): T {
  const out = { ...activities } as Record<string, unknown>;
  for (const name of MUTATING_ACTIVITIES) {
    const fn = (activities as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') continue;
    out[name] = async (plan: Plan, ...rest: unknown[]) => {
      await ensure(plan);
      return (fn as (...a: unknown[]) => Promise<unknown>)(plan, ...rest);
    };
  }
  return out as T;
}
