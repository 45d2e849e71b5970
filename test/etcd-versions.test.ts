/**
 * The etcd version gates against REAL etcd servers of the versions clusters
 * run: 3.5.21 and 3.6.6 built from the Go module proxy by scripts/build-etcd.sh
 * (cached under /var/cache/cpmigrate/etcd by scripts/setup.sh), and Debian's
 * 3.4. Loopback 127.0.16.x. Run under the test lock.
 *
 * - a learner join into a 3.5.21 cluster is refused before anything changes (etcd #19557)
 * - a 3.6 member joining a 3.4 cluster is refused before the add: the binary on the new host is read first
 *   (a real 3.4 leader panics "not implemented" when a 3.6 member connects: checking after the start is too late)
 * - 3.6 → 3.6 joins as a learner and is promoted (the version a Kubernetes 1.34 cluster runs)
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createEtcdActivities } from '../src/activities/etcd';
import { UnsafeOperationError } from '../src/errors';
import { listMembers, withEtcdClient } from '../src/lib/etcd';
import { startEtcdLab, type EtcdLab, type LabHost } from './support/etcd-cluster';

const CACHE = process.env.CPM_ETCD_CACHE ?? '/var/cache/cpmigrate/etcd';
const ETCD_35 = `${CACHE}/v3.5.21/etcd`;
const ETCD_36 = `${CACHE}/v3.6.6/etcd`;
const missing = [ETCD_35, ETCD_36].filter((b) => !existsSync(b));
if (missing.length) throw new Error(`${missing.join(', ')} missing: run scripts/setup.sh (or bash scripts/build-etcd.sh)`);

const OLD: LabHost[] = [1, 2, 3].map((i) => ({ name: `oldmaster-${i}`, address: `127.0.16.1${i}` }));
const NEW: LabHost[] = [{ name: 'master-1', address: '127.0.16.21' }];
const OLD_URLS = OLD.map((h) => `http://${h.address}:2379`);

let lab: EtcdLab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

const acts = (l: EtcdLab) =>
  createEtcdActivities({
    hostOps: () => l.hostOps,
    timeouts: { joinMs: 60_000, healthyMs: 60_000, reconfigMs: 60_000, leaderMoveMs: 15_000, commandMs: 30_000, pollMs: 200 },
  });

const members = () => withEtcdClient({ callTimeoutMs: 3_000, maxRaftIndexLag: 1000 }, OLD_URLS, listMembers);

async function refusedWithoutChange(l: EtcdLab, re: RegExp[]): Promise<string> {
  const before = (await members()).map((m) => `${m.id} ${m.name} ${m.isLearner}`).sort();
  const err = await acts(l)
    .etcdJoinMember(l.plan, 'master-1')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsafeOperationError);
  const msg = (err as Error).message;
  for (const r of re) expect(msg).toMatch(r);
  // nothing changed: the same members (no learner), the new host's etcd never started, no config written
  expect((await members()).map((m) => `${m.id} ${m.name} ${m.isLearner}`).sort()).toEqual(before);
  expect(l.isRunning('master-1')).toBe(false);
  expect(existsSync(`${l.hostDir('master-1')}/etc/etcd/etcd.conf.yml`)).toBe(false);
  for (const h of OLD) expect(l.isRunning(h.name)).toBe(true);
  return msg;
}

describe('etcd version gates on real servers', () => {
  it('refuses a learner join into a real etcd 3.5.21 cluster, explaining etcd #19557, before anything changes', async () => {
    lab = await startEtcdLab({ cluster: 'ver-35', oldMasters: OLD, newMasters: NEW, etcdBinary: ETCD_35, newEtcdBinary: ETCD_36 });
    const msg = await refusedWithoutChange(lab, [
      /^refusing to add etcd member master-1 \(http:\/\/127\.0\.16\.21:2380\):/,
      /refusing a learner join: oldmaster-1 \([0-9a-f]+\) runs etcd 3\.5\.21, oldmaster-2 \([0-9a-f]+\) runs etcd 3\.5\.21, oldmaster-3 \([0-9a-f]+\) runs etcd 3\.5\.21/,
      /etcd issue #19557/,
      /Upgrade every member to etcd 3\.5\.26 or later \(or 3\.6\)/,
    ]);
    expect(msg).not.toMatch(/mixed etcd versions/);
  }, 120_000);

  it('refuses a 3.6 member joining a real 3.4 cluster before the add, naming the binary on the new host', async () => {
    lab = await startEtcdLab({ cluster: 'ver-mix', oldMasters: OLD, newMasters: NEW, newEtcdBinary: ETCD_36 });
    await refusedWithoutChange(lab, [
      /mixed etcd versions the upgrade docs forbid: .*oldmaster-1 \([0-9a-f]+\) 3\.4\.\d+.*master-1 \(to join; master-1: \S+\/bin\/etcd --version\) 3\.6\.6 \(lines 3\.4, 3\.6\)/,
      /within one minor version/,
    ]);
  }, 120_000);

  it('joins a 3.6.6 member into a real 3.6.6 cluster as a learner and promotes it', async () => {
    lab = await startEtcdLab({ cluster: 'ver-36', oldMasters: OLD, newMasters: NEW, etcdBinary: ETCD_36 });
    const r = await acts(lab).etcdJoinMember(lab.plan, 'master-1');
    expect(r).toMatchObject({ name: 'master-1', alreadyMember: false, usedLearner: true, members: 4 });
    expect(r.summary).toMatch(/versions 3\.6\.6;/);
    const list = await members();
    expect(list).toHaveLength(4);
    expect(list.filter((m) => m.isLearner)).toEqual([]);
  }, 120_000);
});
