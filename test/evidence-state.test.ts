/**
 * The approval handlers with evidence (src/workflows/state.ts): an approval
 * records the pending evidence's digest; one naming another digest is refused
 * with a clear message (the update rejects it, the signal is ignored and
 * listed); a malformed digest is refused; evidence that could not be read
 * takes any approval. Pure: no Temporal.
 */
import { describe, expect, it } from 'vitest';
import { digestedEvidence } from '../src/lib/evidence-digest';
import { unreadableEvidence } from '../src/lib/evidence';
import { healthyOldMembers } from '../src/bench/recording-activities';
import { migrationSteps } from '../src/plan/steps';
import { MigrationState } from '../src/workflows/state';
import { testPlan } from './support/plans';

const plan = testPlan({ gates: ['switch-traffic'] });
const evidence = digestedEvidence({
  gate: 'switch-traffic',
  health: healthyOldMembers(plan),
  vip: { address: plan.loadBalancer.vip, holders: ['oldmaster-1'], unchecked: [] },
  at: 'now',
});

function waiting(ev = evidence, reapproval?: { changes: string[] }): MigrationState {
  const st = new MigrationState(plan, migrationSteps(plan));
  st.pending = {
    gate: 'switch-traffic',
    since: 'now',
    remindAfterMs: 1_000,
    overdue: false,
    approveCommands: [],
    evidence: ev,
    ...(reapproval ? { reapproval: { by: 'alice', at: 'then', why: 'changed', lapsed: false, ...reapproval } } : {}),
  };
  return st;
}

describe('approvals and the evidence digest', () => {
  it('records the pending digest, with or without the approver naming it (full or a prefix)', () => {
    for (const evidenceDigest of [undefined, evidence.digest, evidence.digest.slice(0, 12), evidence.digest.slice(0, 8)]) {
      const st = waiting();
      expect(st.approvalProblem({ gate: 'switch-traffic', evidenceDigest })).toBeUndefined();
      expect(st.approve({ gate: 'switch-traffic', by: 'alice', evidenceDigest })?.evidenceDigest).toBe(evidence.digest);
    }
  });

  it('refuses another digest, saying which and what changed; a signal is ignored and listed', () => {
    const st = waiting(evidence, { changes: ['etcd member oldmaster-2 was healthy, now unhealthy'] });
    const stale = 'f'.repeat(64);
    expect(st.approvalProblem({ gate: 'switch-traffic', evidenceDigest: stale })).toBe(
      `the evidence of checkpoint "switch-traffic" is not the one approved: approved ffffffffffff, it is ${evidence.digest.slice(0, 12)} now (etcd member oldmaster-2 was healthy, now unhealthy); NOT taken: read \`cpmigrate status\` again and approve what it shows`,
    );
    expect(st.approve({ gate: 'switch-traffic', by: 'bob', evidenceDigest: stale })).toBeUndefined();
    expect(st.approvals).toEqual([]);
    expect(st.ignoredApprovals.at(-1)).toMatchObject({ gate: 'switch-traffic', by: 'bob', early: false });
  });

  it('refuses a malformed digest; unreadable evidence takes any approval and records none', () => {
    const st = waiting();
    for (const evidenceDigest of ['xyz', 'abc', 42, ''])
      expect(st.approvalProblem({ gate: 'switch-traffic', evidenceDigest })).toMatch(/^"evidenceDigest" must be the evidence digest/);
    const u = waiting(unreadableEvidence('switch-traffic', plan.loadBalancer.vip, 'down', 'now'));
    expect(u.approvalProblem({ gate: 'switch-traffic', evidenceDigest: 'ab'.repeat(32) })).toBeUndefined();
    expect(u.approve({ gate: 'switch-traffic', by: 'carol' })?.evidenceDigest).toBe('unreadable');
  });
});
