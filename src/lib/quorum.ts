/**
 * etcd quorum projection: is one membership change safe, given the members
 * as they are right now? Pure (no I/O), in the spirit of cluster-api's
 * `targetEtcdClusterHealthy`: it projects the member list after the change,
 * does the math once, and explains every "no".
 *
 * Rules (any one makes the change unsafe):
 *  - a member is unhealthy or unreachable (we only change a fully healthy cluster),
 *    except the member being removed: it is leaving (e.g. an old master that
 *    died), and the projection below counts it as not healthy;
 *  - a learner exists other than the one being promoted or removed (stray learner:
 *    a join that did not finish; etcd also allows only one learner at a time);
 *  - the target of a promote/remove is not a member (or, for promote, not a learner);
 *  - the change would remove the last voting member;
 *  - the healthy voters after the change are fewer than the quorum of the voters after it.
 *
 * Learners do not vote: they never count towards voters or quorum.
 */

export interface QuorumMember {
  /** decimal uint64 member id */
  id: string;
  /** for messages; may be empty for a member that never started */
  name?: string;
  isLearner: boolean;
  /** started, reachable, no errors, caught up: decided by the caller */
  healthy: boolean;
}

export type MembershipChange =
  /** member add --learner: no vote until promoted */
  | { kind: 'addLearner' }
  /** plain member add (servers without learner support): a voter that has not started yet */
  | { kind: 'addVoter' }
  | { kind: 'promote'; id: string }
  | { kind: 'remove'; id: string };

export interface QuorumProjection {
  safe: boolean;
  /** why it is not safe; empty when safe */
  reasons: string[];
  votersBefore: number;
  votersAfter: number;
  /** floor(votersAfter / 2) + 1 */
  quorumAfter: number;
  healthyVotersAfter: number;
}

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * How many more members may fail before quorum is lost: healthy voters minus
 * the quorum of all voters (negative: quorum is already lost). The one place
 * plan projections, `plan show` and the safety monitor count fault tolerance.
 */
export function toleranceOf(voters: number, healthyVoters: number = voters): number {
  return healthyVoters - quorumOf(voters);
}

function label(m: QuorumMember): string {
  return m.name ? `${m.name} (${m.id})` : `${m.id} (not started)`;
}

function describeChange(change: MembershipChange, target: QuorumMember | undefined): string {
  switch (change.kind) {
    case 'addLearner':
      return 'add a learner';
    case 'addVoter':
      return 'add a voting member';
    case 'promote':
      return `promote ${target ? label(target) : change.id}`;
    case 'remove':
      return `remove ${target ? label(target) : change.id}`;
  }
}

/** Project `change` onto `members` and say whether it keeps quorum. */
export function projectMembershipChange(members: readonly QuorumMember[], change: MembershipChange): QuorumProjection {
  const reasons: string[] = [];
  const targetId = change.kind === 'promote' || change.kind === 'remove' ? change.id : undefined;
  const target = targetId === undefined ? undefined : members.find((m) => m.id === targetId);
  const voters = members.filter((m) => !m.isLearner);
  const votersBefore = voters.length;

  for (const m of members) {
    if (!m.healthy && !(change.kind === 'remove' && m.id === targetId)) reasons.push(`member ${label(m)} is not healthy`);
  }
  for (const m of members) {
    if (m.isLearner && m.id !== targetId) reasons.push(`learner ${label(m)} is present (an unfinished join); promote or remove it first`);
  }

  let votersAfter = votersBefore;
  let healthyVotersAfter = voters.filter((m) => m.healthy).length;
  switch (change.kind) {
    case 'addLearner':
      break;
    case 'addVoter':
      // the new voter counts at once but is not running yet: it is not healthy
      votersAfter += 1;
      break;
    case 'promote':
      if (!target) reasons.push(`member ${change.id} to promote is not in the member list`);
      else if (!target.isLearner) reasons.push(`member ${label(target)} is already a voting member`);
      else {
        votersAfter += 1;
        if (target.healthy) healthyVotersAfter += 1;
      }
      break;
    case 'remove':
      if (!target) reasons.push(`member ${change.id} to remove is not in the member list`);
      else if (!target.isLearner) {
        votersAfter -= 1;
        if (target.healthy) healthyVotersAfter -= 1;
      }
      if (target && members.length <= 1) reasons.push(`${label(target)} is the last member; never remove it`);
      break;
  }

  const quorumAfter = quorumOf(votersAfter);
  if (votersAfter < 1) {
    if (!reasons.some((r) => r.includes('last member'))) reasons.push('no voting member would remain; never remove the last voter');
  } else if (healthyVotersAfter < quorumAfter) {
    reasons.push(
      `quorum would be lost: after "${describeChange(change, target)}" ${healthyVotersAfter} of ${votersAfter} voters would be healthy, quorum needs ${quorumAfter}`,
    );
  }

  return { safe: reasons.length === 0, reasons, votersBefore, votersAfter, quorumAfter, healthyVotersAfter };
}

/** One line for logs and errors: inputs and the verdict. */
export function formatProjection(change: MembershipChange, p: QuorumProjection): string {
  const head = `${change.kind}${'id' in change ? ` ${change.id}` : ''}: voters ${p.votersBefore} -> ${p.votersAfter}, quorum after ${p.quorumAfter}, healthy voters after ${p.healthyVotersAfter}`;
  return p.safe ? `${head}: safe` : `${head}: NOT safe:\n  * ${p.reasons.join('\n  * ')}`;
}
