import { describe, expect, it } from 'vitest';
import { formatProjection, projectMembershipChange, quorumOf, type MembershipChange, type QuorumMember } from '../src/lib/quorum';

/** v(n): n healthy voters v1..vn; down(...): mark ids unhealthy; learner(id, healthy) */
function voters(n: number, prefix = 'v'): QuorumMember[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i + 1}`, name: `${prefix}${i + 1}`, isLearner: false, healthy: true }));
}
function down(members: QuorumMember[], ...ids: string[]): QuorumMember[] {
  return members.map((m) => (ids.includes(m.id) ? { ...m, healthy: false } : m));
}
function learner(id: string, healthy = true, name = id): QuorumMember {
  return { id, name, isLearner: true, healthy };
}

describe('quorumOf', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('%i voters need %i', (n, q) => {
    expect(quorumOf(n)).toBe(q);
  });
});

interface Case {
  name: string;
  members: QuorumMember[];
  change: MembershipChange;
  safe: boolean;
  votersBefore: number;
  votersAfter: number;
  quorumAfter: number;
  healthyVotersAfter: number;
  /** each must match one reason */
  reasons?: RegExp[];
  /** no reason may match */
  notReasons?: RegExp[];
}

const cases: Case[] = [
  {
    name: '3 healthy + learner add',
    members: voters(3),
    change: { kind: 'addLearner' },
    safe: true,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
  },
  {
    name: '3 healthy + plain voter add (not started yet)',
    members: voters(3),
    change: { kind: 'addVoter' },
    safe: true,
    votersBefore: 3,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 3,
  },
  {
    name: '5 healthy + plain voter add',
    members: voters(5),
    change: { kind: 'addVoter' },
    safe: true,
    votersBefore: 5,
    votersAfter: 6,
    quorumAfter: 4,
    healthyVotersAfter: 5,
  },
  {
    name: '1 of 2 healthy + plain voter add: 3 voters, 1 healthy < 2',
    members: down(voters(2), 'v2'),
    change: { kind: 'addVoter' },
    safe: false,
    votersBefore: 2,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 1,
    reasons: [/v2 \(v2\) is not healthy/, /quorum would be lost: .*1 of 3 voters would be healthy, quorum needs 2/],
  },
  {
    name: 'promote a caught-up learner 3 -> 4',
    members: [...voters(3), learner('l1')],
    change: { kind: 'promote', id: 'l1' },
    safe: true,
    votersBefore: 3,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 4,
  },
  {
    name: 'promote a learner 5 -> 6',
    members: [...voters(5), learner('l1')],
    change: { kind: 'promote', id: 'l1' },
    safe: true,
    votersBefore: 5,
    votersAfter: 6,
    quorumAfter: 4,
    healthyVotersAfter: 6,
  },
  {
    name: 'promote a learner that is not healthy',
    members: [...voters(3), learner('l1', false)],
    change: { kind: 'promote', id: 'l1' },
    safe: false,
    votersBefore: 3,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 3,
    reasons: [/l1 \(l1\) is not healthy/],
    notReasons: [/quorum would be lost/],
  },
  {
    name: 'promote a voter',
    members: voters(3),
    change: { kind: 'promote', id: 'v1' },
    safe: false,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
    reasons: [/already a voting member/],
  },
  {
    name: 'stray learner blocks a learner add',
    members: [...voters(3), learner('l1')],
    change: { kind: 'addLearner' },
    safe: false,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
    reasons: [/learner l1 \(l1\) is present/],
  },
  {
    name: 'stray learner blocks promoting another learner',
    members: [...voters(3), learner('l1'), learner('l2')],
    change: { kind: 'promote', id: 'l1' },
    safe: false,
    votersBefore: 3,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 4,
    reasons: [/learner l2 \(l2\) is present/],
    notReasons: [/learner l1/],
  },
  {
    name: 'stray learner blocks a voter removal',
    members: [...voters(6), learner('l1')],
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 6,
    votersAfter: 5,
    quorumAfter: 3,
    healthyVotersAfter: 5,
    reasons: [/learner l1 \(l1\) is present/],
  },
  {
    name: 'removing the learner itself (abandoned join) does not touch the voters',
    members: [...voters(3), learner('l1', false, '')],
    change: { kind: 'remove', id: 'l1' },
    // the member being removed may be unhealthy: it is leaving; only the others must be healthy
    safe: true,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
    notReasons: [/learner .* is present/, /quorum/, /not healthy/],
  },
  {
    name: 'removing a healthy learner',
    members: [...voters(3), learner('l1')],
    change: { kind: 'remove', id: 'l1' },
    safe: true,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
  },
  {
    name: '6 -> 5 all healthy',
    members: voters(6),
    change: { kind: 'remove', id: 'v1' },
    safe: true,
    votersBefore: 6,
    votersAfter: 5,
    quorumAfter: 3,
    healthyVotersAfter: 5,
  },
  {
    name: '5 -> 4 all healthy',
    members: voters(5),
    change: { kind: 'remove', id: 'v5' },
    safe: true,
    votersBefore: 5,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 4,
  },
  {
    name: '4 -> 3 all healthy',
    members: voters(4),
    change: { kind: 'remove', id: 'v2' },
    safe: true,
    votersBefore: 4,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
  },
  {
    name: '6 -> 5 with one down: quorum math holds (4 >= 3) but an unhealthy member refuses',
    members: down(voters(6), 'v6'),
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 6,
    votersAfter: 5,
    quorumAfter: 3,
    healthyVotersAfter: 4,
    reasons: [/v6 \(v6\) is not healthy/],
    notReasons: [/quorum would be lost/, /v1/],
  },
  {
    name: '6 -> 5 removing the member that is down (an old master powered off): safe, the others are healthy',
    members: down(voters(6), 'v6'),
    change: { kind: 'remove', id: 'v6' },
    safe: true,
    votersBefore: 6,
    votersAfter: 5,
    quorumAfter: 3,
    healthyVotersAfter: 5,
    notReasons: [/not healthy/, /quorum would be lost/],
  },
  {
    name: '3 -> 2 removing the member that is down: 2 of 2 healthy, safe',
    members: down(voters(3), 'v3'),
    change: { kind: 'remove', id: 'v3' },
    safe: true,
    votersBefore: 3,
    votersAfter: 2,
    quorumAfter: 2,
    healthyVotersAfter: 2,
  },
  {
    name: 'removing a down member while another is down too refuses (the other is not healthy)',
    members: down(voters(5), 'v4', 'v5'),
    change: { kind: 'remove', id: 'v5' },
    safe: false,
    votersBefore: 5,
    votersAfter: 4,
    quorumAfter: 3,
    healthyVotersAfter: 3,
    reasons: [/v4 \(v4\) is not healthy/],
    notReasons: [/v5 \(v5\) is not healthy/],
  },
  {
    name: '6 -> 5 with three down: 2 healthy of 5 < 3',
    members: down(voters(6), 'v4', 'v5', 'v6'),
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 6,
    votersAfter: 5,
    quorumAfter: 3,
    healthyVotersAfter: 2,
    reasons: [/quorum would be lost: after "remove v1 \(v1\)" 2 of 5 voters would be healthy, quorum needs 3/],
  },
  {
    name: '4 -> 3 with two down: 1 healthy of 3 < 2',
    members: down(voters(4), 'v3', 'v4'),
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 4,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 1,
    reasons: [/1 of 3 voters would be healthy, quorum needs 2/],
  },
  {
    name: '3 with one down + learner add: 2 healthy of 3 keeps quorum, but the unhealthy member refuses',
    members: down(voters(3), 'v3'),
    change: { kind: 'addLearner' },
    safe: false,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 2,
    reasons: [/v3 \(v3\) is not healthy/],
    notReasons: [/quorum would be lost/],
  },
  {
    name: '2 -> 1',
    members: voters(2),
    change: { kind: 'remove', id: 'v2' },
    safe: true,
    votersBefore: 2,
    votersAfter: 1,
    quorumAfter: 1,
    healthyVotersAfter: 1,
  },
  {
    name: 'never remove the last member',
    members: voters(1),
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 1,
    votersAfter: 0,
    quorumAfter: 1,
    healthyVotersAfter: 0,
    reasons: [/last member/],
  },
  {
    name: 'never remove the last voter (a learner remains)',
    members: [...voters(1), learner('l1')],
    change: { kind: 'remove', id: 'v1' },
    safe: false,
    votersBefore: 1,
    votersAfter: 0,
    quorumAfter: 1,
    healthyVotersAfter: 0,
    reasons: [/no voting member would remain/],
  },
  {
    name: 'remove an unknown member',
    members: voters(3),
    change: { kind: 'remove', id: '42' },
    safe: false,
    votersBefore: 3,
    votersAfter: 3,
    quorumAfter: 2,
    healthyVotersAfter: 3,
    reasons: [/member 42 to remove is not in the member list/],
  },
];

describe('projectMembershipChange', () => {
  it.each(cases)('$name', (c) => {
    const p = projectMembershipChange(c.members, c.change);
    expect({
      safe: p.safe,
      votersBefore: p.votersBefore,
      votersAfter: p.votersAfter,
      quorumAfter: p.quorumAfter,
      healthyVotersAfter: p.healthyVotersAfter,
    }).toEqual({
      safe: c.safe,
      votersBefore: c.votersBefore,
      votersAfter: c.votersAfter,
      quorumAfter: c.quorumAfter,
      healthyVotersAfter: c.healthyVotersAfter,
    });
    expect(p.safe).toBe(p.reasons.length === 0);
    for (const re of c.reasons ?? [])
      expect(
        p.reasons.some((r) => re.test(r)),
        `no reason matches ${re}: ${JSON.stringify(p.reasons)}`,
      ).toBe(true);
    for (const re of c.notReasons ?? [])
      expect(
        p.reasons.some((r) => re.test(r)),
        `a reason matches ${re}: ${JSON.stringify(p.reasons)}`,
      ).toBe(false);
  });

  it('does not mutate its input', () => {
    const members = down(voters(3), 'v2');
    const copy = structuredClone(members);
    projectMembershipChange(members, { kind: 'remove', id: 'v1' });
    expect(members).toEqual(copy);
  });

  it('formats inputs and verdict in one place', () => {
    const change: MembershipChange = { kind: 'remove', id: 'v1' };
    const text = formatProjection(change, projectMembershipChange(down(voters(4), 'v3', 'v4'), change));
    expect(text).toContain('voters 4 -> 3, quorum after 2, healthy voters after 1: NOT safe');
    expect(text).toContain('* member v3 (v3) is not healthy');
    const ok = formatProjection({ kind: 'addLearner' }, projectMembershipChange(voters(3), { kind: 'addLearner' }));
    expect(ok).toBe('addLearner: voters 3 -> 3, quorum after 2, healthy voters after 3: safe');
  });
});
