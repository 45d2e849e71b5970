/**
 * The migration's state, owned by the workflow: what is done, what is
 * pending, who approved what. Its methods are the message handlers, so the
 * signal and the update land in the same code. Deterministic: time comes from
 * the workflow clock (Date in the workflow sandbox).
 */
import { GATES, type GateId, type Plan } from '../plan/schema';
import type { Step } from '../plan/steps';
import type { AbortRequest, Approval, ApprovalRecord, IgnoredApproval, MigrationStatus, PendingCheckpoint, StepRecord } from '../shared';
import { workflowIdFor } from '../shared';

/** A trimmed string, or undefined for anything else: message payloads come from outside. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** how many ignored approvals status keeps (the newest) */
export const IGNORED_KEPT = 20;

export class MigrationState {
  readonly completed = new Map<string, StepRecord>();
  readonly approvals: ApprovalRecord[] = [];
  current?: MigrationStatus['currentStep'];
  pending?: PendingCheckpoint;
  paused = false;
  pauseRequestedBy?: string;
  abort?: AbortRequest;
  lastError?: MigrationStatus['lastError'];
  pointOfNoReturnPassed = false;
  finished?: 'completed' | 'failed' | 'aborted';
  /** approvals that did not count (the newest IGNORED_KEPT), shown in status: never dropped silently */
  ignoredApprovals: IgnoredApproval[] = [];
  ignoredApprovalCount = 0;
  rolledBack: string[] = [];
  abortRefused?: string;
  clusterLock?: MigrationStatus['clusterLock'];
  /** aborts received after the first one: during a held rollback, "stop rolling back" */
  abortRepeats = 0;
  /** the other steps running at the same time as `current` (a batch: plan.parallelism > 1, src/plan/batches.ts) */
  together: string[] = [];
  /** when each started step started (a batch starts several) */
  private readonly startedAt = new Map<string, string>();

  constructor(
    readonly plan: Plan,
    readonly steps: Step[],
  ) {}

  /** Why an approval cannot be taken now; undefined when it can. Checks the whole payload. */
  approvalProblem(a: unknown): string | undefined {
    const p = (a ?? {}) as Partial<Record<keyof Approval, unknown>>;
    if (typeof a !== 'object' || a === null || typeof p.gate !== 'string') return 'approval needs a gate, e.g. {"gate":"switch-traffic","by":"alice"}';
    if (!(GATES as readonly string[]).includes(p.gate)) return `unknown checkpoint "${p.gate}": one of ${GATES.join(', ')}`;
    if (p.by !== undefined && typeof p.by !== 'string') return '"by" must be a string (who approves)';
    if (p.reason !== undefined && typeof p.reason !== 'string') return '"reason" must be a string';
    if (p.ack !== undefined && (!Array.isArray(p.ack) || p.ack.some((x) => typeof x !== 'string' || !x.trim())))
      return '"ack" must be a list of reference ids (from the checkpoint\'s details)';
    if (p.evidenceDigest !== undefined && (typeof p.evidenceDigest !== 'string' || !/^[0-9a-f]{8,64}$/.test(p.evidenceDigest))) {
      return '"evidenceDigest" must be the evidence digest the checkpoint shows (hex, at least its first 8 characters)';
    }
    if (this.finished || this.abort) return 'the migration is stopping or has ended: nothing to approve';
    if (this.isApproved(p.gate as GateId)) return `checkpoint "${p.gate}" is already approved`;
    if (!this.steps.some((x) => x.kind === 'checkpoint' && x.gate === p.gate)) {
      return `checkpoint "${p.gate}" is disabled in this migration's plan${this.pending ? ` (the pending checkpoint is "${this.pending.gate}")` : ''}: nothing to approve`;
    }
    if (this.pending?.gate === p.gate) return this.staleEvidence(p.gate, p.evidenceDigest as string | undefined);
    const why = this.pending
      ? `the pending checkpoint is "${this.pending.gate}", not "${p.gate}"`
      : `checkpoint "${p.gate}" is not pending yet (the migration is at ${this.current?.key ?? 'a step boundary'})`;
    return `${why}: an approval counts only while its checkpoint waits; it was NOT taken, send it again when \`cpmigrate status\` shows "${p.gate}" pending`;
  }

  /** An approval of evidence that is not the pending checkpoint's: why it is refused (src/workflows/evidence.ts). */
  private staleEvidence(gate: string, seen: string | undefined): string | undefined {
    const now = this.pending?.evidence;
    if (seen === undefined || !now || now.unreadable || now.digest.startsWith(seen)) return undefined;
    const held = this.pending?.reapproval
      ? ` (${this.pending.reapproval.changes.length ? this.pending.reapproval.changes.join('; ') : this.pending.reapproval.why})`
      : '';
    return `the evidence of checkpoint "${gate}" is not the one approved: approved ${seen.slice(0, 12)}, it is ${now.digest.slice(0, 12)} now${held}; NOT taken: read \`cpmigrate status\` again and approve what it shows`;
  }

  /** Shared by the approve signal and the approve-checkpoint update. */
  approve(a: unknown): ApprovalRecord | undefined {
    const problem = this.approvalProblem(a);
    const p = (a ?? {}) as Partial<Record<keyof Approval, unknown>>;
    if (problem) {
      const gate = text(p.gate);
      const early =
        this.steps.some((x) => x.kind === 'checkpoint' && x.gate === gate) &&
        !this.isApproved(gate as GateId) &&
        this.pending?.gate !== gate &&
        !this.finished &&
        !this.abort;
      this.ignoredApprovals.push({ gate, by: text(p.by), at: new Date().toISOString(), why: problem, early });
      if (this.ignoredApprovals.length > IGNORED_KEPT) this.ignoredApprovals.shift();
      this.ignoredApprovalCount += 1;
      return undefined;
    }
    const ack = Array.isArray(p.ack) ? (p.ack as string[]).map((x) => x.trim()) : [];
    const digest = this.pending?.evidence?.digest;
    const rec: ApprovalRecord = {
      gate: p.gate as GateId,
      by: text(p.by) ?? 'unknown',
      reason: text(p.reason),
      at: new Date().toISOString(),
      ...(ack.length ? { ack } : {}),
      ...(digest ? { evidenceDigest: digest } : {}),
    };
    this.approvals.push(rec);
    return rec;
  }

  /** The approval of `gate` no longer counts (the cluster is not as approved): kept in status as ignored, with why. */
  revokeApproval(gate: GateId, why: string): void {
    const i = this.approvals.findIndex((r) => r.gate === gate);
    if (i < 0) return;
    const [rec] = this.approvals.splice(i, 1);
    this.ignoredApprovals.push({ gate, by: rec?.by, at: new Date().toISOString(), why, early: false });
    if (this.ignoredApprovals.length > IGNORED_KEPT) this.ignoredApprovals.shift();
    this.ignoredApprovalCount += 1;
  }

  isApproved(gate: GateId): boolean {
    return this.approvals.some((r) => r.gate === gate);
  }

  /**
   * Before the point of no return an abort is honoured (optionally rolling back).
   * After it, only forward: the abort is refused and the migration pauses for a human.
   */
  requestAbort(r: unknown): void {
    const p = (r ?? {}) as Partial<Record<keyof AbortRequest, unknown>>;
    const by = text(p.by);
    const reason = text(p.reason) ?? 'no reason given';
    if (this.finished) return;
    if (this.abort) {
      this.abortRepeats++;
      return;
    }
    if (this.pointOfNoReturnPassed) {
      this.abortRefused = `abort by ${by ?? 'an operator'} (${reason}) refused: past the point of no return (old etcd members are being removed); paused instead — resume to go forward`;
      this.pause(`${by ?? 'operator'} (abort refused)`);
      return;
    }
    this.abort = { reason, by, rollback: p.rollback === true };
  }

  pause(by?: unknown): void {
    this.paused = true;
    this.pauseRequestedBy = text(by);
  }

  resume(): void {
    this.paused = false;
    this.pauseRequestedBy = undefined;
  }

  startStep(step: Step, waitingFor?: string): void {
    // Decommissioning (or, rolling, an etcd-leave) removes old etcd members: from its start on, only forward.
    if (step.kind === 'action' && (step.phase === 'decommission-old' || step.phase === 'etcd-leave')) this.pointOfNoReturnPassed = true;
    const startedAt = new Date().toISOString();
    this.startedAt.set(step.key, startedAt);
    this.current = {
      key: step.key,
      phase: step.kind === 'action' ? step.phase : 'checkpoint',
      host: step.kind === 'action' ? step.host : undefined,
      startedAt,
      waitingFor,
    };
  }

  /** Several steps start at once (a batch): the first is `current`, the others `together`. */
  startBatch(steps: readonly Step[]): void {
    const [first, ...rest] = steps;
    if (!first) return;
    this.startStep(first);
    for (const s of rest) this.startedAt.set(s.key, this.current?.startedAt ?? new Date().toISOString());
    this.together = rest.map((s) => s.key);
  }

  /** After a batch settled: `step` (a started one) is current again, `others` still to finish (a held batch). */
  focus(step: Step, others: readonly Step[]): void {
    const startedAt = this.startedAt.get(step.key) ?? new Date().toISOString();
    this.current = {
      key: step.key,
      phase: step.kind === 'action' ? step.phase : 'checkpoint',
      host: step.kind === 'action' ? step.host : undefined,
      startedAt,
    };
    this.together = others.map((s) => s.key);
  }

  waitingFor(what: string | undefined): void {
    if (this.current) this.current.waitingFor = what;
  }

  completeStep(step: Step, summary: string): void {
    const startedAt = this.current?.key === step.key ? this.current.startedAt : (this.startedAt.get(step.key) ?? new Date().toISOString());
    this.startedAt.delete(step.key);
    this.completed.set(step.key, {
      key: step.key,
      phase: step.kind === 'action' ? step.phase : 'checkpoint',
      host: step.kind === 'action' ? step.host : undefined,
      startedAt,
      endedAt: new Date().toISOString(),
      summary,
      state: 'completed',
    });
    this.together = this.together.filter((k) => k !== step.key);
    if (!this.current || this.current.key === step.key) this.current = undefined;
  }

  status(): MigrationStatus {
    const state: MigrationStatus['state'] =
      this.finished ?? (this.pending ? 'waiting-approval' : this.paused ? (this.lastError ? 'blocked' : 'paused') : 'running');
    return {
      cluster: this.plan.cluster,
      workflowId: workflowIdFor(this.plan.cluster),
      state,
      currentStep: this.current ? { ...this.current } : undefined,
      runningTogether: this.together.length ? [...this.together] : undefined,
      completed: this.steps.flatMap((s) => {
        const r = this.completed.get(s.key);
        return r ? [r] : [];
      }),
      totalSteps: this.steps.length,
      steps: this.steps.map((x) => ({ key: x.key, host: x.kind === 'action' ? x.host : undefined, title: x.title })),
      pendingCheckpoint: this.pending ? { ...this.pending } : undefined,
      approvals: [...this.approvals],
      lastError: this.lastError,
      paused: this.paused,
      pauseRequestedBy: this.pauseRequestedBy,
      abortReason: this.abort ? `${this.abort.reason}${this.abort.by ? ` (by ${this.abort.by})` : ''}` : undefined,
      abortRefused: this.abortRefused,
      pointOfNoReturnPassed: this.pointOfNoReturnPassed,
      rolledBack: this.rolledBack.length ? [...this.rolledBack] : undefined,
      ignoredApprovals: this.ignoredApprovals.length ? this.ignoredApprovals.map((a) => ({ ...a })) : undefined,
      ignoredApprovalCount: this.ignoredApprovalCount || undefined,
      clusterLock: this.clusterLock ? { ...this.clusterLock } : undefined,
    };
  }
}
