/** Reading a migration's history lives in src/demo/activity-history.ts; here what the lab tests expect of it. */
import { expect } from 'vitest';

/** The activity calls every lab migration makes exactly once (and the one it makes twice). */
export function expectLabActivitiesOnce(completed: Map<string, number>): void {
  for (const key of [
    'etcdSnapshot',
    'etcdJoinMember master-1',
    'etcdJoinMember master-2',
    'etcdJoinMember master-3',
    'etcdRemoveMember oldmaster-1',
    'etcdRemoveMember oldmaster-2',
    'etcdRemoveMember oldmaster-3',
    'drainNode master-1',
  ]) {
    expect(completed.get(key), key).toBe(1);
  }
  expect(completed.get('verifyVip new'), 'verifyVip new').toBe(2); // before and after the old keepalived stop
}
