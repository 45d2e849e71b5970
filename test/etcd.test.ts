/**
 * The etcd activities against a REAL etcd 3.4 cluster on loopback
 * (127.0.1.11-13 old masters, 127.0.1.21-23 new masters; see
 * support/etcd-cluster.ts). The tests run in order and share the cluster:
 * 3 members -> a join that never starts is abandoned -> 6 members -> a killed
 * member blocks the next change -> 3 new members -> config rewrite.
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdActivities, type EtcdActivities } from '../src/activities/etcd';
import { UnsafeOperationError } from '../src/errors';
import { etcdAccess, listMembers, withEtcdClient } from '../src/lib/etcd';
import { runtimeDigest } from '../src/lib/etcd-config';
import { etcdctl, startEtcdLab, type EtcdLab, type LabHost } from './support/etcd-cluster';

const OLD: LabHost[] = [1, 2, 3].map((i) => ({ name: `oldmaster-${i}`, address: `127.0.1.1${i}` }));
const NEW: LabHost[] = [1, 2, 3].map((i) => ({ name: `master-${i}`, address: `127.0.1.2${i}` }));
const url = (h: LabHost) => `http://${h.address}:2379`;
const OLD_URLS = OLD.map(url);
const NEW_URLS = NEW.map(url);
const ALL_URLS = [...OLD_URLS, ...NEW_URLS];

/** non-default settings of the old members that every new member must carry */
const TUNING = [
  'quota-backend-bytes: 4294967296',
  'heartbeat-interval: 150',
  'election-timeout: 1500',
  'snapshot-count: 20000',
  'max-request-bytes: 3145728',
  'auto-compaction-retention: "2"',
];

/** etcd_server_quota_backend_bytes as the running member reports it (/metrics) */
async function liveQuota(clientURL: string): Promise<number> {
  const text = await (await fetch(`${clientURL}/metrics`)).text();
  return Number(/^etcd_server_quota_backend_bytes (\S+)$/m.exec(text)?.[1]);
}

let lab: EtcdLab;
let acts: EtcdActivities;
const events: string[] = [];
const timings = { adds: [] as Array<[string, number]>, removes: [] as Array<[string, number]> };

async function members(endpoints = ALL_URLS) {
  return withEtcdClient({ callTimeoutMs: 3_000, maxRaftIndexLag: 1000 }, endpoints, listMembers);
}

function configOf(host: string): string {
  return readFileSync(`${lab.hostDir(host)}/etc/etcd/etcd.conf.yml`, 'utf8');
}

/** run fn as an activity of the given mock workflow execution */
function inRun<T>(env: MockActivityEnvironment, fn: () => Promise<T>): Promise<T> {
  return env.run(fn) as Promise<T>;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, Math.round(performance.now() - t0)];
}

beforeAll(async () => {
  lab = await startEtcdLab({ cluster: 'etcd-test', oldMasters: OLD, newMasters: NEW, tuning: TUNING });
  acts = createEtcdActivities({
    hostOps: () => lab.hostOps,
    timeouts: { joinMs: 60_000, healthyMs: 60_000, reconfigMs: 60_000, leaderMoveMs: 15_000, commandMs: 30_000, pollMs: 200 },
    log: (msg) => events.push(msg),
  });
  await withEtcdClient(etcdAccess(lab.plan), OLD_URLS, (c) => c.put('cpmigrate/canary').value('written-before-the-migration').exec());
});

afterAll(async () => {
  const add = timings.adds.reduce((s, [, ms]) => s + ms, 0);
  const rem = timings.removes.reduce((s, [, ms]) => s + ms, 0);
  if (timings.adds.length || timings.removes.length) {
    console.log(
      `etcd 3->6->3 timings: total ${add + rem} ms (adds ${add} ms, removes ${rem} ms)\n` +
        timings.adds.map(([h, ms]) => `  join   ${h}: ${ms} ms`).join('\n') +
        '\n' +
        timings.removes.map(([h, ms]) => `  remove ${h}: ${ms} ms`).join('\n'),
    );
  }
  if (process.env.CPM_TEST_VERBOSE) console.log(events.join('\n'));
  await lab?.stop();
});

describe('etcd activities against a real 3-member cluster', () => {
  it('etcdHealth reports every member, one leader, decimal ids; etcdClientURLs lists the voters', async () => {
    const h = await acts.etcdHealth(lab.plan);
    expect(h.problems).toEqual([]);
    expect(h.healthy).toBe(true);
    expect(h.members.map((m) => m.name).sort()).toEqual(OLD.map((o) => o.name));
    for (const m of h.members) {
      expect(m.id).toMatch(/^\d+$/);
      expect(m.reachable).toBe(true);
      expect(m.isLearner).toBe(false);
      expect(Number(m.raftIndex)).toBeGreaterThan(0);
    }
    expect(h.members.map((m) => m.id)).toContain(h.leaderId);
    expect(h.alarms).toEqual([]);
    expect(await acts.etcdClientURLs(lab.plan)).toEqual([...OLD_URLS].sort());
  });

  it('etcdSnapshot writes a verified snapshot on the worker and keeps it when the same workflow run retries', async () => {
    const run1 = new MockActivityEnvironment({ workflowExecution: { workflowId: 'cpmigrate-etcd-test', runId: 'run-1' } });
    const s = await inRun(run1, () => acts.etcdSnapshot(lab.plan));
    expect(s.path).toBe(lab.plan.etcd.snapshotPath);
    expect(existsSync(s.path)).toBe(true);
    const st = statSync(s.path);
    expect(s.sizeBytes).toBeGreaterThan(0);
    expect(st.size).toBe(s.sizeBytes);
    expect(BigInt(s.revision)).toBeGreaterThan(1n);
    expect(createHash('sha256').update(readFileSync(s.path)).digest('hex')).toBe(s.sha256);
    expect(JSON.parse(readFileSync(`${s.path}.json`, 'utf8'))).toMatchObject({ workflowId: 'cpmigrate-etcd-test', runId: 'run-1', sha256: s.sha256 });
    // etcdctl agrees it is a valid snapshot, at least at our revision
    const status = JSON.parse(etcdctl(OLD_URLS, 'snapshot', 'status', s.path, '-w', 'json')) as { revision: number; totalKey: number };
    expect(BigInt(status.revision)).toBeGreaterThanOrEqual(BigInt(s.revision));
    expect(status.totalKey).toBeGreaterThan(0);

    const again = await inRun(run1, () => acts.etcdSnapshot(lab.plan));
    expect(again).toEqual(s);
    expect(statSync(s.path).mtimeMs).toBe(st.mtimeMs);
  });

  it('etcdSnapshot never reuses a snapshot of another migration (or one taken outside a workflow): it is moved aside', async () => {
    const file = lab.plan.etcd.snapshotPath;
    const aside = (sha: string) => `${file}.cpmigrate-bak-${sha.slice(0, 8)}`;
    const first = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as { sha256: string; runId: string };
    expect(first.runId).toBe('run-1');
    await withEtcdClient(etcdAccess(lab.plan), OLD_URLS, (c) => c.put('cpmigrate/snapshot-test').value('after-run-1').exec());

    // an earlier, aborted migration of the same cluster left run-1's snapshot: run-2 takes its own
    const run2 = new MockActivityEnvironment({ workflowExecution: { workflowId: 'cpmigrate-etcd-test', runId: 'run-2' } });
    const s2 = await inRun(run2, () => acts.etcdSnapshot(lab.plan));
    expect(s2.sha256).not.toBe(first.sha256);
    expect(existsSync(aside(first.sha256))).toBe(true);
    expect(JSON.parse(readFileSync(`${aside(first.sha256)}.json`, 'utf8'))).toMatchObject({ runId: 'run-1' });
    expect(JSON.parse(readFileSync(`${file}.json`, 'utf8'))).toMatchObject({ workflowId: 'cpmigrate-etcd-test', runId: 'run-2', sha256: s2.sha256 });
    expect(events.some((e) => /taken by another migration \(workflow cpmigrate-etcd-test, run run-1\).*moved to/.test(e))).toBe(true);

    // without a workflow identity (not an activity: tests, CLI) nothing is reused
    await withEtcdClient(etcdAccess(lab.plan), OLD_URLS, (c) => c.put('cpmigrate/snapshot-test').value('after-run-2').exec());
    const bare = await acts.etcdSnapshot(lab.plan);
    expect(bare.sha256).not.toBe(s2.sha256);
    expect(existsSync(aside(s2.sha256))).toBe(true);
    const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as Record<string, unknown>;
    expect(meta.sha256).toBe(bare.sha256);
    expect(meta.runId).toBeUndefined();
    const bareMtime = statSync(file).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await acts.etcdSnapshot(lab.plan);
    expect(statSync(file).mtimeMs).not.toBe(bareMtime);
    expect(existsSync(aside(bare.sha256))).toBe(true);
  });

  it('a join whose member never starts times out, and etcdAbandonJoin leaves no learner behind', async () => {
    const neverStarts = lab.planWith((p) => {
      p.etcd.service = { type: 'commands', start: 'true', stop: 'true', status: 'false' };
    });
    const impatient = createEtcdActivities({ hostOps: () => lab.hostOps, timeouts: { joinMs: 3_000, pollMs: 200 }, log: (m) => events.push(m) });
    await expect(impatient.etcdJoinMember(neverStarts, 'master-1')).rejects.toThrow(
      /timed out .* start and catch up.*not started.*service status on master-1 exits 1/s,
    );

    const dangling = (await members(OLD_URLS)).filter((m) => m.isLearner);
    expect(dangling).toHaveLength(1);
    expect(dangling[0]?.peerURLs).toEqual(['http://127.0.1.21:2380']);
    expect(dangling[0]?.name).toBe('');
    const h = await acts.etcdHealth(lab.plan);
    expect(h.healthy).toBe(false);
    expect(h.problems.join('\n')).toMatch(/stray learner/);

    const r = await acts.etcdAbandonJoin(lab.plan, 'master-1');
    expect(r).toMatchObject({ alreadyRemoved: false, leaderMoved: false, members: 3, memberId: dangling[0]?.id });
    expect(r.summary).toMatch(/removed learner/);
    const after = await members(OLD_URLS);
    expect(after.filter((m) => m.isLearner)).toEqual([]);
    expect(after).toHaveLength(3);
    expect((await acts.etcdHealth(lab.plan)).healthy).toBe(true);

    const twice = await acts.etcdAbandonJoin(lab.plan, 'master-1');
    expect(twice.alreadyRemoved).toBe(true);
  });

  it('grows 3 -> 6, one learner at a time, promoted once caught up', async () => {
    for (const [i, h] of NEW.entries()) {
      const [r, ms] = await timed(() => acts.etcdJoinMember(lab.plan, h.name));
      timings.adds.push([h.name, ms]);
      expect(r).toMatchObject({ name: h.name, alreadyMember: false, usedLearner: true, members: 4 + i });
      expect(r.memberId).toMatch(/^\d+$/);
      const list = await members();
      expect(list.filter((m) => m.isLearner)).toEqual([]);
      expect(list.find((m) => m.id === r.memberId)?.name).toBe(h.name);
      expect(lab.isRunning(h.name)).toBe(true);
      // the config lists exactly the members the add returned (the old ones, earlier new ones, itself)
      const cfg = configOf(h.name);
      expect(cfg).toContain('initial-cluster-state: existing');
      const ic = /initial-cluster: (.*)/.exec(cfg)?.[1]?.split(',').sort();
      expect(ic).toEqual([...OLD, ...NEW.slice(0, i + 1)].map((x) => `${x.name}=http://${x.address}:2380`).sort());
      expect(cfg).toContain(`data-dir: ${lab.plan.paths.etcdDataDir}`);
      // every tuned setting carried, and said so
      for (const line of TUNING) expect(cfg).toContain(line);
      expect(r.config?.carried).toEqual(
        expect.arrayContaining([
          'quota-backend-bytes',
          'heartbeat-interval',
          'election-timeout',
          'snapshot-count',
          'max-request-bytes',
          'auto-compaction-retention',
          'initial-cluster-token',
        ]),
      );
      expect(r.config?.source).toMatch(/^oldmaster-1:/);
      expect(r.summary).toMatch(/carried \d+ settings from oldmaster-1.*quota-backend-bytes/);
      expect(await liveQuota(url(h))).toBe(4294967296);
      expect(r.summary).toMatch(/versions 3\.\d+\.\d+; quota 4294967296 >= 1\.25 x db \d+/);
      // after the last join only: every member's store agrees
      if (i === NEW.length - 1) expect(r.summary).toMatch(/HashKV agrees on 6 members at revision \d+/);
      else expect(r.summary).not.toMatch(/HashKV/);
    }
    const h = await acts.etcdHealth(lab.plan);
    expect(h.healthy).toBe(true);
    expect(h.members.filter((m) => !m.isLearner)).toHaveLength(6);
  });

  it('joining the same member twice is a no-op', async () => {
    const before = statSync(`${lab.hostDir('master-2')}/etc/etcd/etcd.conf.yml`).mtimeMs;
    const pid = lab.pidOf('master-2');
    const mark = events.length;
    const r = await acts.etcdJoinMember(lab.plan, 'master-2');
    expect(r).toMatchObject({ alreadyMember: true, members: 6 });
    expect(r.summary).toMatch(/already a started voting member/);
    expect(events.slice(mark).filter((e) => /added|promoted/.test(e))).toEqual([]);
    expect(statSync(`${lab.hostDir('master-2')}/etc/etcd/etcd.conf.yml`).mtimeMs).toBe(before);
    expect(lab.pidOf('master-2')).toBe(pid);
    expect(await members()).toHaveLength(6);
  });

  it('a killed member makes the next change refuse with the quorum message; health reports it', async () => {
    lab.kill('master-3');
    for (let i = 0; i < 50 && lab.isRunning('master-3'); i++) await new Promise((r) => setTimeout(r, 100));
    const h = await acts.etcdHealth(lab.plan);
    expect(h.healthy).toBe(false);
    expect(h.problems.join('\n')).toMatch(/master-3 .*unreachable/);

    const err = await acts.etcdRemoveMember(lab.plan, 'oldmaster-3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeOperationError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/refusing to remove etcd member oldmaster-3 .*quorum/);
    expect(msg).toMatch(/voters 6 -> 5, quorum after 3, healthy voters after 4/);
    expect(msg).toMatch(/member master-3 \(\d+\) is not healthy/);
    expect((err as UnsafeOperationError).blockers.length).toBeGreaterThan(0);
    expect(await members(OLD_URLS)).toHaveLength(6);

    await lab.start('master-3');
    await lab.waitHealthy(ALL_URLS, 60_000);
  });

  it('re-checks health after moving leadership, right before the removal', async () => {
    const access = etcdAccess(lab.plan);
    const list = await members();
    const st = await withEtcdClient(access, OLD_URLS, (c) => c.maintenance.status());
    let leader = list.find((m) => m.id === st.leader);
    if (!leader || !leader.name.startsWith('old')) {
      const to = list.find((m) => m.name === 'oldmaster-2');
      await withEtcdClient(access, leader?.clientURLs ?? [], (c) => c.maintenance.moveLeader({ targetID: to?.id }));
      leader = to;
      await lab.waitHealthy(ALL_URLS);
    }
    let victim = '';
    // a new master (not the one that now leads) crashes while leadership moves
    const racing = createEtcdActivities({
      hostOps: () => lab.hostOps,
      timeouts: { healthyMs: 60_000, reconfigMs: 60_000, leaderMoveMs: 15_000, commandMs: 30_000, pollMs: 200 },
      log: (msg) => {
        events.push(msg);
        const m = /^leader moved from \S+ to (\S+)/.exec(msg);
        if (!m || victim) return;
        victim = NEW.map((h) => h.name).find((n) => n !== m[1]) ?? '';
        lab.kill(victim);
        const until = Date.now() + 5_000;
        while (lab.isRunning(victim) && Date.now() < until) {
          // wait (synchronously: the activity does not await its logger) until the process is gone
        }
      },
    });
    const err = await racing.etcdRemoveMember(lab.plan, leader?.name ?? '').catch((e: unknown) => e);
    expect(victim).toMatch(/^master-\d$/);
    expect(err).toBeInstanceOf(UnsafeOperationError);
    expect((err as Error).message).toMatch(/re-checked after the leader move/);
    expect((err as Error).message).toMatch(new RegExp(`member ${victim} \\(\\d+\\) is not healthy`));
    expect(await members(NEW_URLS)).toHaveLength(6);
    await lab.start(victim);
    await lab.waitHealthy(ALL_URLS, 60_000);
  });

  it('removing the current leader moves leadership to a new master first', async () => {
    const access = etcdAccess(lab.plan);
    const list = await members();
    const st = await withEtcdClient(access, OLD_URLS, (c) => c.maintenance.status());
    let leader = list.find((m) => m.id === st.leader);
    if (!leader || !leader.name.startsWith('old')) {
      // make an old master lead, so the removal has to move leadership
      const to = list.find((m) => m.name === 'oldmaster-2');
      await withEtcdClient(access, leader?.clientURLs ?? [], (c) => c.maintenance.moveLeader({ targetID: to?.id }));
      leader = to;
      await lab.waitHealthy(ALL_URLS);
    }
    const leaderName = leader?.name ?? '';
    expect((await withEtcdClient(access, NEW_URLS, (c) => c.maintenance.status())).leader).toBe(leader?.id);

    const mark = events.length;
    const [r, ms] = await timed(() => acts.etcdRemoveMember(lab.plan, leaderName));
    timings.removes.push([leaderName, ms]);
    expect(r).toMatchObject({ alreadyRemoved: false, leaderMoved: true, members: 5, memberId: leader?.id });
    expect(r.summary).toMatch(new RegExp(`leadership moved from ${leaderName} to master-\\d`));
    const seq = events.slice(mark);
    const moved = seq.findIndex((e) => e.startsWith(`leader moved from ${leaderName}`));
    const removed = seq.findIndex((e) => e.startsWith(`member ${leaderName}`) && e.endsWith('removed'));
    expect(moved).toBeGreaterThanOrEqual(0);
    expect(removed).toBeGreaterThan(moved);

    const now = await acts.etcdHealth(lab.plan);
    expect(now.healthy).toBe(true);
    expect(now.members.find((m) => m.id === now.leaderId)?.name).toMatch(/^master-\d$/);
    expect(lab.isRunning(leaderName)).toBe(false);
  });

  it('shrinks to the 3 new members; removing again is "already removed"', async () => {
    for (const h of OLD) {
      if (!(await members(NEW_URLS)).some((m) => m.name === h.name)) continue;
      const [r, ms] = await timed(() => acts.etcdRemoveMember(lab.plan, h.name));
      timings.removes.push([h.name, ms]);
      expect(r.alreadyRemoved).toBe(false);
      expect(lab.isRunning(h.name)).toBe(false);
      // HashKV of every member at one revision agreed before the removal
      expect(r.summary).toMatch(/HashKV agrees on [4-6] members at revision \d+ \(hash \d+\); removed/);
    }
    const list = await members(NEW_URLS);
    expect(list.map((m) => m.name).sort()).toEqual(NEW.map((n) => n.name));
    expect(list.every((m) => !m.isLearner)).toBe(true);
    const again = await acts.etcdRemoveMember(lab.plan, 'oldmaster-1');
    expect(again).toMatchObject({ alreadyRemoved: true, leaderMoved: false, members: 3 });
    expect(again.summary).toMatch(/3 members healthy/);

    // "already removed" has the same postcondition as a removal: a healthy cluster
    lab.kill('master-3');
    for (let i = 0; i < 50 && lab.isRunning('master-3'); i++) await new Promise((r) => setTimeout(r, 100));
    const impatient = createEtcdActivities({ hostOps: () => lab.hostOps, timeouts: { healthyMs: 1_500, pollMs: 200 }, log: (m) => events.push(m) });
    await expect(impatient.etcdRemoveMember(lab.plan, 'oldmaster-1')).rejects.toThrow(
      /timed out .*etcd healthy \(member of oldmaster-1 already removed\).*master-3/s,
    );
    await lab.start('master-3');
    await lab.waitHealthy(NEW_URLS, 60_000);
    expect(await acts.etcdRemoveMember(lab.plan, 'oldmaster-1')).toMatchObject({ alreadyRemoved: true, members: 3 });
  });

  it('reads back the key written before the migration from the new members only', async () => {
    const v = await withEtcdClient(etcdAccess(lab.plan), NEW_URLS, (c) => c.get('cpmigrate/canary').string());
    expect(v).toBe('written-before-the-migration');
    expect(await acts.etcdClientURLs(lab.plan)).toEqual([...NEW_URLS].sort());
  });

  it("rewrites the new members' config with only live members, without restarting", async () => {
    for (const h of NEW) {
      const pid = lab.pidOf(h.name);
      const r = await acts.etcdRewriteConfig(lab.plan, h.name);
      expect(r.changed).toBe(true);
      expect(r.summary).toMatch(/not restarted/);
      const cfg = configOf(h.name);
      expect(cfg).not.toMatch(/127\.0\.1\.1\d/);
      expect(/initial-cluster: (.*)/.exec(cfg)?.[1]?.split(',').sort()).toEqual(NEW.map((x) => `${x.name}=http://${x.address}:2380`));
      expect(lab.pidOf(h.name)).toBe(pid);
      const again = await acts.etcdRewriteConfig(lab.plan, h.name);
      expect(again.changed).toBe(false);
    }
    expect((await acts.etcdHealth(lab.plan)).healthy).toBe(true);
  });

  it('restarts a member (one, health-checked) only when a setting other than initial-cluster differs from what it runs', async () => {
    const file = `${lab.hostDir('master-3')}/etc/etcd/etcd.conf.yml`;
    const stamp = `${lab.hostDir('master-3')}/etc/etcd/.etcd.conf.yml.cpmigrate-applied`;
    const good = readFileSync(file, 'utf8');
    const other = good.replace(/^advertise-client-urls: .*$/m, 'advertise-client-urls: http://127.0.1.23:2379,http://127.0.1.23:12379');
    // the file edited behind the member's back: it still runs what its stamp says, so nothing to restart
    writeFileSync(file, other);
    let pid = lab.pidOf('master-3');
    const edited = await acts.etcdRewriteConfig(lab.plan, 'master-3');
    expect(edited.summary).toMatch(/not restarted/);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(lab.pidOf('master-3')).toBe(pid);

    // a member cpmigrate never restarted (no stamp) runs its file as it is: a runtime setting that differs is a restart
    rmSync(stamp);
    writeFileSync(file, other);
    const r = await acts.etcdRewriteConfig(lab.plan, 'master-3');
    expect(r.changed).toBe(true);
    expect(r.summary).toMatch(/changed advertise-client-urls\) and restarted/);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(lab.pidOf('master-3')).not.toBe(pid);
    expect(lab.isRunning('master-3')).toBe(true);
    expect((await acts.etcdHealth(lab.plan)).healthy).toBe(true);

    // an attempt that recorded the baseline and wrote the file, then died before the restart: the retry restarts
    // (the bug this prevents: "file unchanged" on the retry, and the member keeps the old settings)
    writeFileSync(stamp, `${runtimeDigest(other)}\n`);
    pid = lab.pidOf('master-3');
    const retry = await acts.etcdRewriteConfig(lab.plan, 'master-3');
    expect(retry.summary).toMatch(/settings written by an earlier attempt\) and restarted/);
    expect(lab.pidOf('master-3')).not.toBe(pid);
    expect(readFileSync(stamp, 'utf8').trim()).toBe(runtimeDigest(good));
    // converged: neither written nor restarted again
    pid = lab.pidOf('master-3');
    expect((await acts.etcdRewriteConfig(lab.plan, 'master-3')).changed).toBe(false);
    expect(lab.pidOf('master-3')).toBe(pid);
    expect((await acts.etcdHealth(lab.plan)).healthy).toBe(true);
  });

  it('a join interrupted after the add resumes on retry; a re-join after removal parks the old data dir', async () => {
    const extra = {
      name: 'master-4',
      address: '127.0.1.24',
      etcd: { name: 'master-4', clientURL: 'http://127.0.1.24:2379', peerURL: 'http://127.0.1.24:2380' },
    };
    const plan4 = lab.planWith((p) => {
      p.newMasters.push(extra);
    });
    const crashing = lab.planWith((p) => {
      p.newMasters.push(extra);
      p.etcd.service = { type: 'commands', start: 'true', stop: 'true', status: 'false' };
    });
    const impatient = createEtcdActivities({
      hostOps: () => lab.hostOps,
      timeouts: { joinMs: 2_000, reconfigMs: 30_000, pollMs: 200 },
      log: (m) => events.push(m),
    });
    await expect(impatient.etcdJoinMember(crashing, 'master-4')).rejects.toThrow(/timed out/);
    const learner = (await members(NEW_URLS)).find((m) => m.isLearner);
    expect(learner?.peerURLs).toEqual(['http://127.0.1.24:2380']);

    const resumed = await acts.etcdJoinMember(plan4, 'master-4');
    expect(resumed).toMatchObject({ memberId: learner?.id, alreadyMember: true, usedLearner: true, members: 4 });
    expect(resumed.summary).toMatch(/already added \(learner\): continued/);
    expect((await members(NEW_URLS)).filter((m) => m.isLearner)).toEqual([]);

    const removed = await acts.etcdRemoveMember(plan4, 'master-4');
    expect(removed).toMatchObject({ alreadyRemoved: false, members: 3 });
    expect(lab.isRunning('master-4')).toBe(false);
    expect(existsSync(`${lab.hostDir('master-4')}/var/lib/etcd/member`)).toBe(true);

    // the old data dir belongs to the removed member id: etcd would refuse it
    const again = await acts.etcdJoinMember(plan4, 'master-4');
    expect(again).toMatchObject({ alreadyMember: false, usedLearner: true, members: 4 });
    expect(again.memberId).not.toBe(learner?.id);
    expect(again.summary).toMatch(/moved aside/);
    expect(readdirSync(`${lab.hostDir('master-4')}/var/lib/etcd`).some((f) => /^member\.cpmigrate-stale-\d+$/.test(f))).toBe(true);
    expect(lab.isRunning('master-4')).toBe(true);
    await acts.etcdRemoveMember(plan4, 'master-4');
    expect((await acts.etcdHealth(lab.plan)).members.map((m) => m.name).sort()).toEqual(NEW.map((n) => n.name));
  });
});

describe('etcd activities over TLS (client certificates, kubeadm pki layout)', () => {
  const TOLD: LabHost = { name: 'tls-old-1', address: '127.0.1.6' };
  const TNEW: LabHost = { name: 'tls-new-1', address: '127.0.1.7' };
  let tlsLab: EtcdLab;
  let tacts: EtcdActivities;

  beforeAll(async () => {
    tlsLab = await startEtcdLab({ cluster: 'etcd-tls-test', oldMasters: [TOLD], newMasters: [TNEW], tls: true });
    tacts = createEtcdActivities({ hostOps: () => tlsLab.hostOps, timeouts: { joinMs: 60_000, healthyMs: 60_000, reconfigMs: 60_000, pollMs: 200 } });
  });
  afterAll(async () => {
    await tlsLab?.stop();
  });

  it('joins and removes over https; without the client certificate health is reported, not thrown', async () => {
    expect((await tacts.etcdHealth(tlsLab.plan)).healthy).toBe(true);
    const joined = await tacts.etcdJoinMember(tlsLab.plan, TNEW.name);
    expect(joined).toMatchObject({ usedLearner: true, members: 2 });
    const cfg = readFileSync(`${tlsLab.hostDir(TNEW.name)}/etc/etcd/etcd.conf.yml`, 'utf8');
    expect(cfg).toContain(`cert-file: ${tlsLab.plan.paths.pkiDir}/etcd/server.crt`);
    expect(cfg).toContain(`cert-file: ${tlsLab.plan.paths.pkiDir}/etcd/peer.crt`);
    expect(await tacts.etcdClientURLs(tlsLab.plan)).toEqual(['https://127.0.1.6:2379', 'https://127.0.1.7:2379']);

    const noCert = tlsLab.planWith((p) => {
      delete p.etcd.tls;
    });
    const h = await tacts.etcdHealth(noCert);
    expect(h.healthy).toBe(false);
    expect(h.problems.join('\n')).toMatch(/etcd health unknown/);

    const removed = await tacts.etcdRemoveMember(tlsLab.plan, TOLD.name);
    expect(removed).toMatchObject({ alreadyRemoved: false, members: 1 });
    const after = await tacts.etcdHealth(tlsLab.plan);
    expect(after.healthy).toBe(true);
    expect(after.members.map((m) => m.name)).toEqual([TNEW.name]);
  });
});
