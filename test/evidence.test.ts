/**
 * A checkpoint's evidence (src/lib/evidence.ts, evidence-diff.ts,
 * evidence-digest.ts): the digest changes exactly when something an approver
 * decides on changes, never for routine churn (leader, raft index, db size,
 * read time, list order), and every change reads as a sentence.
 */
import { describe, expect, it } from 'vitest';
import type { EtcdHealthReport, EtcdMemberHealth } from '../src/lib/etcd';
import { canonicalJson, describeEvidence, evidenceGist, unreadableEvidence, type EvidenceInput } from '../src/lib/evidence';
import { evidenceChanges } from '../src/lib/evidence-diff';
import { digestedEvidence } from '../src/lib/evidence-digest';
import { approveCommands, inventoryToRecheck } from '../src/workflows/evidence';

const member = (name: string, id: string, extra: Partial<EtcdMemberHealth> = {}): EtcdMemberHealth => ({
  id,
  name,
  peerURLs: [`http://${name}:2380`],
  clientURLs: [`http://${name}:2379`],
  isLearner: false,
  reachable: true,
  raftIndex: '100',
  dbSize: 4096,
  ...extra,
});

const health = (members: EtcdMemberHealth[], extra: Partial<EtcdHealthReport> = {}): EtcdHealthReport => ({
  healthy: true,
  leaderId: members[0]?.id,
  members,
  alarms: [],
  problems: [],
  ...extra,
});

const base = (): EvidenceInput => ({
  gate: 'switch-traffic',
  health: health([member('oldmaster-1', '11'), member('oldmaster-2', '12'), member('master-1', '21')]),
  vip: { address: '10.200.20.241', holders: ['oldmaster-1'], unchecked: [] },
  known: { parity: ['apiserver/master-1: flag parity with oldmaster-1: 40 flags compared, 0 non-per-host difference(s)'] },
  at: '2026-12-02T04:00:00.000Z',
});

const ev = (change: (i: EvidenceInput) => void = () => undefined) => {
  const i = base();
  change(i);
  return digestedEvidence(i);
};

describe('the evidence digest', () => {
  it('is a sha256 of the canonical facts, the same for the same cluster', () => {
    expect(ev().digest).toMatch(/^[0-9a-f]{64}$/);
    expect(ev().digest).toBe(ev().digest);
  });

  it('does not change for routine churn: leader, raft index, db size, a member problem text, read time, list order', () => {
    const d = ev().digest;
    expect(ev((i) => (i.health.leaderId = '12')).digest).toBe(d);
    expect(ev((i) => (i.at = '2026-12-03T00:00:00.000Z')).digest).toBe(d);
    expect(ev((i) => i.health.members.forEach((m) => ((m.raftIndex = '999999'), (m.dbSize = 1 << 30)))).digest).toBe(d);
    expect(ev((i) => i.health.members.reverse()).digest).toBe(d);
    expect(ev((i) => (i.health.problems = ['something transient'])).digest).toBe(d);
    expect(ev((i) => (i.vip.holders = ['oldmaster-1', 'oldmaster-1'])).digest).toBe(d);
  });

  it('changes for what an approver decides on: health, membership, learner, peer URLs, no leader, alarms, VIP holder, unchecked hosts, known parts', () => {
    const d = ev().digest;
    const changed = [
      ev((i) => ((i.health.members[1] as EtcdMemberHealth).reachable = false)),
      ev((i) => ((i.health.members[0] as EtcdMemberHealth).error = 'raft index 5 is 900 behind')),
      ev((i) => i.health.members.pop()),
      ev((i) => i.health.members.push(member('master-2', '22', { isLearner: true }))),
      ev((i) => ((i.health.members[2] as EtcdMemberHealth).isLearner = true)),
      ev((i) => ((i.health.members[0] as EtcdMemberHealth).peerURLs = ['http://10.0.0.1:2380'])),
      ev((i) => delete i.health.leaderId),
      ev((i) => (i.health.alarms = ['NOSPACE on member 11'])),
      ev((i) => (i.vip.holders = ['master-1'])),
      ev((i) => (i.vip.unchecked = ['oldmaster-2'])),
      ev((i) => (i.known = {})),
      ev((i) => (i.known = { ...i.known, inventory: [{ ref: 'ConfigMap/kube-public/cluster-info:kubeconfig' }] })),
      ev((i) => (i.gate = 'decommission')),
    ];
    for (const c of changed) expect(c.digest).not.toBe(d);
    expect(new Set(changed.map((c) => c.digest)).size).toBe(changed.length);
  });

  it('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: undefined } })).toBe('{"a":{"d":[2,{"x":2,"y":1}]},"b":1}');
  });
});

describe('what changed since the approval', () => {
  it('nothing when the digests agree', () => {
    expect(
      evidenceChanges(
        ev(),
        ev((i) => (i.health.leaderId = '21')),
      ),
    ).toEqual([]);
  });

  it('says each difference in words, with why a member is unhealthy', () => {
    const after = ev((i) => {
      const m = i.health.members[1] as EtcdMemberHealth;
      m.reachable = false;
      m.error = 'connect ECONNREFUSED 10.200.20.12:2379';
      i.health.members.push(member('master-2', '22', { isLearner: true }));
      i.health.alarms = ['NOSPACE on member 11'];
      i.vip.holders = ['master-1'];
      i.vip.unchecked = ['oldmaster-2'];
    });
    expect(evidenceChanges(ev(), after)).toEqual([
      'etcd member master-2 (22) was added: learner, healthy',
      'etcd member oldmaster-2 was healthy, now unhealthy: connect ECONNREFUSED 10.200.20.12:2379',
      'etcd alarm NOSPACE on member 11: new',
      'VIP 10.200.20.241 was held by oldmaster-1, now by master-1',
      'the VIP could not be checked on oldmaster-2 (it could when approved)',
    ]);
  });

  it('removals, replacements, promotions, leaderless, known parts', () => {
    const before = ev();
    const after = ev((i) => {
      i.health.members = [member('oldmaster-1', '99'), member('master-1', '21'), member('oldmaster-2', '12')];
      (i.health.members[1] as EtcdMemberHealth).isLearner = true;
      i.health.members.pop();
      delete i.health.leaderId;
      i.known = { parity: [] };
    });
    expect(evidenceChanges(before, after)).toEqual([
      'etcd member master-1 was a voter, now a learner',
      'etcd member oldmaster-1 was replaced: id 11, now 99',
      'etcd member oldmaster-2 (12) was removed',
      'etcd had a leader, now has none',
      'parity apiserver/master-1: flag parity with oldmaster-1: 40 flags compared, 0 non-per-host difference(s): gone',
    ]);
  });

  it('an unreadable member list or unreadable evidence is a change', () => {
    const gone = ev((i) => (i.health = { healthy: false, members: [], alarms: [], problems: ['etcd health unknown: deadline exceeded'] }));
    expect(evidenceChanges(ev(), gone)).toEqual(["etcd's member list could not be read (it had 3 members): etcd health unknown: deadline exceeded"]);
    const u = unreadableEvidence('switch-traffic', '10.200.20.241', 'activity failed: policy refused', 'now');
    expect(evidenceChanges(ev(), u)).toEqual(['the evidence could not be read again (activity failed: policy refused)']);
    expect(evidenceChanges(u, unreadableEvidence('switch-traffic', '10.200.20.241', 'again', 'later'))).toEqual([]);
  });
});

describe('the evidence as shown', () => {
  it('lists members, VIP and the known parts; the gist carries the digest prefix', () => {
    const e = ev((i) => ((i.health.members[1] as EtcdMemberHealth).error = 'unreachable'));
    expect(describeEvidence(e)).toEqual([
      'etcd: 3 member(s), 2 healthy, leader oldmaster-1',
      'etcd member master-1 (21, http://master-1:2380): voter, healthy',
      'etcd member oldmaster-1 (11, http://oldmaster-1:2380): voter, healthy',
      'etcd member oldmaster-2 (12, http://oldmaster-2:2380): voter, UNHEALTHY: unreachable',
      'VIP 10.200.20.241: held by oldmaster-1',
      'parity: apiserver/master-1: flag parity with oldmaster-1: 40 flags compared, 0 non-per-host difference(s)',
    ]);
    expect(evidenceGist(e)).toBe(`evidence ${e.digest.slice(0, 12)}: 2/3 etcd members healthy, VIP on oldmaster-1`);
  });
});

describe('the workflow side (src/workflows/evidence.ts, pure parts)', () => {
  it('a reference gone since the approval is no reason to ask again; a new one is', () => {
    const approved = ['ConfigMap/kube-public/cluster-info:kubeconfig', 'Endpoints/default/kubernetes (expected)'];
    expect(inventoryToRecheck(approved, [{ ref: 'Endpoints/default/kubernetes', expected: 'each old kube-apiserver removes itself' }])).toEqual([
      { ref: 'ConfigMap/kube-public/cluster-info:kubeconfig' },
      { ref: 'Endpoints/default/kubernetes', expected: 'expected' },
    ]);
    const fresh = [{ ref: 'kubelet/worker-1' }];
    expect(inventoryToRecheck(approved, fresh)).toBe(fresh);
    // the approved list reproduces the approved digest's inventory exactly
    const a = ev((i) => (i.known = { inventory: [{ ref: 'x' }, { ref: 'y', expected: 'why' }] }));
    const b = ev((i) => (i.known = { inventory: inventoryToRecheck(a.facts.inventory, [{ ref: 'y', expected: 'other words' }]) }));
    expect(b.digest).toBe(a.digest);
  });

  it('approve commands carry the digest when there is one, and are unchanged without', () => {
    expect(approveCommands('cpmigrate-x', 'decommission')).toEqual([
      'npx cpmigrate approve cpmigrate-x decommission --by "$USER" --reason "..."',
      `temporal workflow signal --workflow-id cpmigrate-x --name approve --input '{"gate":"decommission","by":"'"$USER"'"}'`,
    ]);
    const d = 'ab'.repeat(32);
    expect(approveCommands('cpmigrate-x', 'decommission', d)).toEqual([
      'npx cpmigrate approve cpmigrate-x decommission --evidence abababababab --by "$USER" --reason "..."',
      `temporal workflow signal --workflow-id cpmigrate-x --name approve --input '{"gate":"decommission","evidenceDigest":"${d}","by":"'"$USER"'"}'`,
    ]);
  });
});
