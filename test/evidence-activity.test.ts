/**
 * The checkpointEvidence activity (src/activities/evidence.ts) on in-memory
 * hosts: the VIP holder asked on every reachable master, a host that cannot be
 * asked listed as unchecked (and digested), etcd health as given; read-only
 * (only `ip -4 -o addr show` runs) and idempotent (same cluster, same digest).
 */
import { describe, expect, it } from 'vitest';
import { createEvidenceActivities } from '../src/activities/evidence';
import { healthyOldMembers } from '../src/bench/recording-activities';
import { testPlan } from './support/plans';
import { FakeHosts } from './support/fake-hosts';

describe('checkpointEvidence', () => {
  const plan = testPlan();
  const setup = () => {
    const f = new FakeHosts();
    for (const h of [...plan.oldMasters, ...plan.newMasters]) f.host(h.name).addrs.push(h.address);
    f.host('oldmaster-1').addrs.push(plan.loadBalancer.vip);
    const acts = createEvidenceActivities({ hostOps: () => f, etcdHealth: async () => healthyOldMembers(plan) });
    return { f, acts };
  };

  it('reads members, health and the VIP holder; only reads; the same cluster gives the same digest', async () => {
    const { f, acts } = setup();
    const a = await acts.checkpointEvidence(plan, 'switch-traffic', { parity: ['p'] });
    expect(a.facts.vip).toEqual({ address: plan.loadBalancer.vip, holders: ['oldmaster-1'], unchecked: [] });
    expect(a.facts.etcd.members.map((m) => `${m.name}:${m.healthy}`)).toEqual(plan.oldMasters.map((h) => `${h.etcd.name}:true`).sort());
    expect(a.facts.parity).toEqual(['p']);
    expect(new Set(f.commands.map((c) => c.command))).toEqual(new Set(['ip -4 -o addr show']));
    const b = await acts.checkpointEvidence(plan, 'switch-traffic', { parity: ['p'] });
    expect(b.digest).toBe(a.digest);
    expect(b.observed.at >= a.observed.at).toBe(true);
  });

  it('a master that cannot be asked is unchecked, and that changes the digest', async () => {
    const { f, acts } = setup();
    const before = await acts.checkpointEvidence(plan, 'decommission');
    f.host('oldmaster-2').unreachable = true;
    const after = await acts.checkpointEvidence(plan, 'decommission');
    expect(after.facts.vip.unchecked).toEqual(['oldmaster-2']);
    expect(after.digest).not.toBe(before.digest);
  });
});
