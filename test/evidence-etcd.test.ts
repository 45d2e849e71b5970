/**
 * checkpointEvidence (src/activities/evidence.ts) against a REAL etcd 3.4
 * cluster on loopback (support/etcd-cluster.ts; run under the test lock): the
 * digest stays the same while the cluster only does routine work (writes
 * advance the raft index, leadership moves), changes when a member dies
 * (the difference names it, with etcd's reason), and comes back to the very
 * same value once the member is healthy again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdActivities } from '../src/activities/etcd';
import { createEvidenceActivities } from '../src/activities/evidence';
import { etcdAccess, withEtcdClient } from '../src/lib/etcd';
import type { CheckpointEvidence } from '../src/lib/evidence';
import { evidenceChanges } from '../src/lib/evidence-diff';
import { etcdctl, startEtcdLab, type EtcdLab, type LabHost } from './support/etcd-cluster';

const OLD: LabHost[] = [1, 2, 3].map((i) => ({ name: `oldmaster-${i}`, address: `127.0.1.1${i}` }));
const NEW: LabHost[] = [1, 2, 3].map((i) => ({ name: `master-${i}`, address: `127.0.1.2${i}` }));
const OLD_URLS = OLD.map((h) => `http://${h.address}:2379`);

let lab: EtcdLab;
let read: () => Promise<CheckpointEvidence>;
const ms: number[] = [];

beforeAll(async () => {
  lab = await startEtcdLab({ cluster: 'evidence-test', oldMasters: OLD, newMasters: NEW });
  const etcd = createEtcdActivities({ hostOps: () => lab.hostOps, log: () => undefined });
  const acts = createEvidenceActivities({ hostOps: () => lab.hostOps, etcdHealth: etcd.etcdHealth });
  read = async () => {
    const t0 = performance.now();
    const e = await acts.checkpointEvidence(lab.plan, 'decommission', { inventory: [{ ref: 'kubelet/worker-1' }] });
    ms.push(Math.round(performance.now() - t0));
    return e;
  };
}, 120_000);

afterAll(async () => {
  if (ms.length) console.log(`checkpointEvidence on 3 real etcd members + 6 hosts: ${ms.join(', ')} ms`);
  await lab?.stop();
});

describe('checkpoint evidence on a real etcd cluster', () => {
  it('same digest through routine work, another one while a member is down, the same again once it is back', async () => {
    const first = await read();
    expect(first.facts.etcd).toMatchObject({ readable: true, hasLeader: true, alarms: [] });
    expect(first.facts.etcd.members.map((m) => `${m.name}:${m.learner ? 'learner' : 'voter'}:${m.healthy}`)).toEqual(OLD.map((h) => `${h.name}:voter:true`));
    expect(first.facts.inventory).toEqual(['kubelet/worker-1']);

    // routine work: writes move the raft index, leadership moves to another member
    await withEtcdClient(etcdAccess(lab.plan), OLD_URLS, async (c) => {
      for (let i = 0; i < 50; i++) await c.put(`cpmigrate/evidence/${i}`).value('x'.repeat(512)).exec();
    });
    const leader = first.facts.etcd.members.find((m) => m.name === first.observed.leader);
    const other = first.facts.etcd.members.find((m) => m.name !== first.observed.leader);
    etcdctl([`http://${OLD.find((h) => h.name === leader?.name)?.address}:2379`], 'move-leader', BigInt(other?.id ?? '0').toString(16));
    const routine = await read();
    expect(routine.observed.leader).toBe(other?.name);
    expect(routine.digest).toBe(first.digest);

    lab.kill('oldmaster-3');
    const down = await read();
    expect(down.digest).not.toBe(first.digest);
    const changes = evidenceChanges(first, down);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatch(/^etcd member oldmaster-3 was healthy, now unhealthy: .+/);

    await lab.start('oldmaster-3');
    await lab.waitHealthy(OLD_URLS);
    const back = await read();
    expect(back.digest).toBe(first.digest);
  }, 120_000);
});
