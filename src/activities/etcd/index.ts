/**
 * etcd activities: health, snapshot, and one membership change at a time
 * (learner add -> catch up -> promote; leader move -> remove), plus the
 * config rewrite after the old members are gone and the live client URLs.
 *
 * Every activity guards itself (health + quorum projection before a change,
 * UnsafeOperationError when unsafe: non-retryable) and is idempotent
 * (member already added / already removed / config already written = success).
 * Hosts are reached through an injected HostOps (SSH in production).
 *
 * One concern a file:
 *   context.ts   dependencies, timeouts, the shared operations (retries, waits, quorum guard)
 *   health.ts    etcdHealth, etcdClientURLs
 *   snapshot.ts  etcdSnapshot
 *   join.ts      etcdJoinMember, etcdAbandonJoin
 *   remove.ts    etcdRemoveMember
 *   config.ts    a member's config (derive, push) and etcdRewriteConfig
 */
import { configActivities } from './config';
import { etcdContext, type EtcdActivities, type EtcdActivityDeps } from './context';
import { healthActivities } from './health';
import { joinActivities } from './join';
import { removeActivities } from './remove';
import { snapshotActivities } from './snapshot';

export { DEFAULT_ETCD_TIMEOUTS, type EtcdActivities, type EtcdActivityDeps, type EtcdTimeouts } from './context';

export function createEtcdActivities(deps: EtcdActivityDeps): EtcdActivities {
  const ctx = etcdContext(deps);
  const health = healthActivities(ctx);
  const join = joinActivities(ctx);
  return {
    etcdHealth: health.etcdHealth,
    etcdSnapshot: snapshotActivities(ctx).etcdSnapshot,
    etcdJoinMember: join.etcdJoinMember,
    etcdAbandonJoin: join.etcdAbandonJoin,
    etcdRemoveMember: removeActivities(ctx).etcdRemoveMember,
    etcdRewriteConfig: configActivities(ctx).etcdRewriteConfig,
    etcdClientURLs: health.etcdClientURLs,
  };
}
