/**
 * The step planner: from the old and new masters (1–7 each, a host may be in
 * both), the strategy and the failed old masters, the ordered etcd membership
 * changes with the members, quorum and tolerated failures after each one.
 * Pure and deterministic (workflow code and `plan show` use the same answer).
 *
 * - A failed old master's member is removed first (it never counts as healthy;
 *   removing a dead member never lowers the tolerance).
 * - `grow-then-shrink` (the runbook): add every new member, then remove every
 *   old one.
 * - `rolling` (Cluster API): add one, remove one; the member count never goes
 *   above one more than the larger side.
 * - Default: the runbook's for 3 → 3; otherwise the strategy whose worst step
 *   tolerates more failures (a tie goes to grow-then-shrink, whose middle
 *   steps never tolerate fewer).
 * - Refused: quorum already lost; a failed master kept in newMasters; a final
 *   even member count without allowEvenMembers; any step tolerating fewer
 *   failures than the starting cluster unless acceptToleranceDrop.
 */
import { quorumOf, toleranceOf } from '../lib/quorum';

export const STRATEGIES = ['grow-then-shrink', 'rolling'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const MIN_MASTERS = 1;
export const MAX_MASTERS = 7;

export interface ShapeInput {
  /** old masters in plan order; `failed`: powered off / dead, removed first, never touched */
  oldMasters: ReadonlyArray<{ name: string; failed?: boolean }>;
  /** new masters in plan order; a name also in oldMasters is kept (shared) */
  newMasters: ReadonlyArray<{ name: string }>;
  strategy?: Strategy;
  allowEvenMembers?: boolean;
  acceptToleranceDrop?: boolean;
}

export interface MemberCount {
  /** voting members, in order of joining */
  members: string[];
  voters: number;
  quorum: number;
  /** failures tolerated: healthy voters − quorum (a failed member is not healthy) */
  tolerates: number;
}

export interface MembershipStep extends MemberCount {
  /** remove-failed: a dead old master's member, first; add: a new member (learner, then promoted); remove: an old member */
  op: 'remove-failed' | 'add' | 'remove';
  host: string;
  /** this step tolerates fewer failures than the starting cluster */
  belowStart: boolean;
}

export interface ShapeIssue {
  /** plan field the problem is about */
  path: string;
  message: string;
  hint?: string;
}

export interface ShapeProjection {
  strategy: Strategy;
  /** how the strategy was chosen, one sentence */
  strategyWhy: string;
  start: MemberCount;
  steps: MembershipStep[];
  final: MemberCount;
  /** the lowest tolerance after any step (the start's when there is no step) */
  worstTolerates: number;
  /** most voting members at once */
  peak: number;
  shared: string[];
  failed: string[];
  added: string[];
  removed: string[];
  /** the plan is refused */
  problems: ShapeIssue[];
  /** the plan runs, but an SRE should read these */
  warnings: ShapeIssue[];
}

function count(members: readonly string[], failed: ReadonlySet<string>): MemberCount {
  const voters = members.length;
  const healthy = members.filter((m) => !failed.has(m)).length;
  return { members: [...members], voters, quorum: quorumOf(voters), tolerates: toleranceOf(voters, healthy) };
}

type Op = { op: MembershipStep['op']; host: string };

function orderOf(strategy: Strategy, failedOld: string[], removals: string[], adds: string[], startSize: number, finalSize: number): Op[] {
  const ops: Op[] = failedOld.map((host) => ({ op: 'remove-failed', host }));
  if (strategy === 'grow-then-shrink') {
    return [...ops, ...adds.map((host): Op => ({ op: 'add', host })), ...removals.map((host): Op => ({ op: 'remove', host }))];
  }
  // rolling: add while below one more than the larger side, else remove one
  const cap = Math.max(startSize - failedOld.length, finalSize) + 1;
  let size = startSize - failedOld.length;
  const a = [...adds];
  const r = [...removals];
  // bounded: every round consumes one add or one removal
  while (a.length || r.length) {
    const add = a.length > 0 && (size < cap || r.length === 0);
    const host = (add ? a.shift() : r.shift()) as string;
    ops.push({ op: add ? 'add' : 'remove', host });
    size += add ? 1 : -1;
  }
  return ops;
}

function simulate(input: ShapeInput, strategy: Strategy): Pick<ShapeProjection, 'start' | 'steps' | 'final' | 'worstTolerates' | 'peak'> {
  const newNames = new Set(input.newMasters.map((h) => h.name));
  const failed = new Set(input.oldMasters.filter((h) => h.failed).map((h) => h.name));
  const oldNames = input.oldMasters.map((h) => h.name);
  const startMembers = [...oldNames];
  const start = count(startMembers, failed);
  const adds = input.newMasters.map((h) => h.name).filter((n) => !oldNames.includes(n));
  const removals = oldNames.filter((n) => !newNames.has(n) && !failed.has(n));
  const finalSize = input.newMasters.length;
  const ops = orderOf(
    strategy,
    oldNames.filter((n) => failed.has(n)),
    removals,
    adds,
    startMembers.length,
    finalSize,
  );
  const members = [...startMembers];
  const steps: MembershipStep[] = ops.map(({ op, host }) => {
    if (op === 'add') members.push(host);
    else members.splice(members.indexOf(host), 1);
    const c = count(members, failed);
    return { op, host, ...c, belowStart: c.tolerates < start.tolerates };
  });
  const final = count(members, failed);
  return {
    start,
    steps,
    final,
    worstTolerates: steps.length ? Math.min(...steps.map((s) => s.tolerates)) : start.tolerates,
    peak: Math.max(start.voters, ...steps.map((s) => s.voters)),
  };
}

function chooseStrategy(input: ShapeInput): { strategy: Strategy; why: string } {
  if (input.strategy) return { strategy: input.strategy, why: 'set by the plan (strategy)' };
  const runbook = input.oldMasters.length === 3 && input.newMasters.length === 3;
  if (runbook) return { strategy: 'grow-then-shrink', why: "default for 3 → 3: the runbook's" };
  const g = simulate(input, 'grow-then-shrink').worstTolerates;
  const r = simulate(input, 'rolling').worstTolerates;
  if (r > g) return { strategy: 'rolling', why: `default: its worst step tolerates ${r} failure(s), grow-then-shrink's ${g}` };
  return {
    strategy: 'grow-then-shrink',
    why: `default: its worst step tolerates ${g} failure(s)${r === g ? ", as rolling (a tie goes to the runbook's)" : `, rolling's ${r}`}`,
  };
}

/** The membership projection of a shape, with every refusal and warning. */
export function projectShape(input: ShapeInput): ShapeProjection {
  const problems: ShapeIssue[] = [];
  const warnings: ShapeIssue[] = [];
  for (const side of ['oldMasters', 'newMasters'] as const) {
    const n = input[side].length;
    if (n < MIN_MASTERS || n > MAX_MASTERS) {
      problems.push({
        path: side,
        message: `${n} hosts: a control plane has ${MIN_MASTERS} to ${MAX_MASTERS} masters`,
        hint: 'etcd beyond 7 members only slows writes',
      });
    }
  }
  const { strategy, why } = chooseStrategy(input);
  const sim = simulate(input, strategy);
  const oldNames = input.oldMasters.map((h) => h.name);
  const newNames = input.newMasters.map((h) => h.name);
  const failed = input.oldMasters.filter((h) => h.failed).map((h) => h.name);
  const shared = newNames.filter((n) => oldNames.includes(n));

  for (const f of failed) {
    if (newNames.includes(f)) {
      problems.push({
        path: 'newMasters',
        message: `${f} is marked failed in oldMasters and also listed as a new master: a dead host cannot be kept`,
        hint: 'list its replacement under another name (the new host), or mark it active if it is up',
      });
    }
  }
  if (sim.start.tolerates < 0) {
    problems.push({
      path: 'oldMasters',
      message: `etcd has lost quorum: ${sim.start.voters - failed.length} of ${sim.start.voters} members healthy, quorum needs ${sim.start.quorum}; no membership change can be made`,
      hint: 'restore quorum first (bring a failed master back, or restore the snapshot into a new cluster); cpmigrate only changes a cluster that has quorum',
    });
  }
  if (sim.final.voters > 0 && sim.final.voters % 2 === 0) {
    const odd = sim.final.voters - 1;
    const msg = `the final etcd has ${sim.final.voters} members: it tolerates ${sim.final.tolerates} failure(s), as ${odd} members would, with one more member to lose`;
    if (input.allowEvenMembers) warnings.push({ path: 'allowEvenMembers', message: msg });
    else problems.push({ path: 'newMasters', message: msg, hint: `use ${odd} or ${sim.final.voters + 1} new masters, or set allowEvenMembers: true` });
  }
  const below = sim.steps.filter((s) => s.belowStart);
  if (below.length) {
    const worst = Math.min(...below.map((s) => s.tolerates));
    const msg = `${below.length} step(s) tolerate fewer failures than the starting cluster (${sim.start.tolerates}): down to ${worst} (${below.map((s) => `${s.op} ${s.host} → ${s.voters} members`).join(', ')})`;
    if (input.acceptToleranceDrop) warnings.push({ path: 'acceptToleranceDrop', message: `accepted: ${msg}` });
    else
      problems.push({
        path: 'acceptToleranceDrop',
        message: msg,
        hint: `set acceptToleranceDrop: true to accept it${input.strategy ? '' : ', or choose another strategy'}`,
      });
  }
  if (failed.length && sim.start.tolerates >= 0) {
    warnings.push({
      path: 'oldMasters',
      message: `${failed.join(', ')} marked failed: ${failed.length > 1 ? 'their members are' : 'its member is'} removed first (own checkpoint); none of ${failed.length > 1 ? 'their' : 'its'} services are touched`,
    });
  }
  return {
    strategy,
    strategyWhy: why,
    ...sim,
    shared,
    failed,
    added: newNames.filter((n) => !oldNames.includes(n)),
    removed: oldNames.filter((n) => !newNames.includes(n) && !failed.includes(n)),
    problems,
    warnings,
  };
}

/** One line per membership step, for `plan show` and the Web UI. */
export function formatMemberCount(c: MemberCount): string {
  return `${c.voters} voters [${c.members.join(', ')}], quorum ${c.quorum}, tolerates ${c.tolerates} failure(s)`;
}
