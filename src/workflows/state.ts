/**
 * The migration's state, owned by the workflow: what is done, what is
 * pending, who approved what. Its methods are the message handlers, so the
 * signal and the update land in the same code. Deterministic: time comes from
 * the workflow clock (Date in the workflow sandbox).
 */
import type { GateId, Plan } from '../plan/schema';
import type { Step } from '../plan/steps';
import type {
  AbortRequest,
  Approval,
  ApprovalRecord,
  MigrationStatus,
  PendingCheckpoint,
  StepRecord,
} from '../shared';
import { workflowIdFor } from '../shared';

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
  ignoredApprovals: Array<Approval & { at: string; why: string }> = [];
  rolledBack: string[] = [];

  constructor(
    readonly plan: Plan,
    readonly steps: Step[],
    carried: { completed?: StepRecord[]; approvals?: ApprovalRecord[] } = {},
  ) {
    for (const r of carried.completed ?? []) this.completed.set(r.key, r);
    this.approvals.push(...(carried.approvals ?? []));
  }

  /** Why an approval cannot be taken now; undefined when it can. */
  approvalProblem(a: Approval): string | undefined {
    if (!a || typeof a.gate !== 'string') return 'approval needs a gate, e.g. {"gate":"switch-traffic"}';
    if (!this.pending) return `no checkpoint is pending (asked to approve "${a.gate}")`;
    if (this.pending.gate !== a.gate) return `the pending checkpoint is "${this.pending.gate}", not "${a.gate}"`;
    return undefined;
  }

  /** Shared by the approve signal and the approve-checkpoint update. */
  approve(a: Approval): ApprovalRecord | undefined {
    const problem = this.approvalProblem(a);
    if (problem) {
      this.ignoredApprovals.push({ ...a, at: new Date().toISOString(), why: problem });
      return undefined;
    }
    const rec: ApprovalRecord = { gate: a.gate, by: a.by?.trim() || 'unknown', reason: a.reason, at: new Date().toISOString() };
    this.approvals.push(rec);
    return rec;
  }

  isApproved(gate: GateId): boolean {
    return this.approvals.some((r) => r.gate === gate);
  }

  requestAbort(r: AbortRequest): void {
    if (!this.abort) this.abort = { reason: r?.reason?.trim() || 'no reason given', by: r?.by, rollback: r?.rollback === true };
  }

  pause(by?: string): void {
    this.paused = true;
    this.pauseRequestedBy = by;
  }

  resume(): void {
    this.paused = false;
    this.pauseRequestedBy = undefined;
  }

  startStep(step: Step, waitingFor?: string): void {
    this.current = {
      key: step.key,
      phase: step.kind === 'action' ? step.phase : 'checkpoint',
      host: step.kind === 'action' ? step.host : undefined,
      startedAt: new Date().toISOString(),
      waitingFor,
    };
  }

  waitingFor(what: string | undefined): void {
    if (this.current) this.current.waitingFor = what;
  }

  completeStep(step: Step, summary: string): void {
    const startedAt = this.current?.key === step.key ? this.current.startedAt : new Date().toISOString();
    this.completed.set(step.key, {
      key: step.key,
      phase: step.kind === 'action' ? step.phase : 'checkpoint',
      host: step.kind === 'action' ? step.host : undefined,
      startedAt,
      endedAt: new Date().toISOString(),
      summary,
      state: 'completed',
    });
    if (step.kind === 'action' && step.pointOfNoReturn) this.pointOfNoReturnPassed = true;
    this.current = undefined;
  }

  status(): MigrationStatus {
    const state: MigrationStatus['state'] =
      this.finished ??
      (this.pending ? 'waiting-approval' : this.paused ? (this.lastError ? 'blocked' : 'paused') : 'running');
    return {
      cluster: this.plan.cluster,
      workflowId: workflowIdFor(this.plan.cluster),
      state,
      currentStep: this.current ? { ...this.current } : undefined,
      completed: this.steps.flatMap((s) => {
        const r = this.completed.get(s.key);
        return r ? [r] : [];
      }),
      totalSteps: this.steps.length,
      pendingCheckpoint: this.pending ? { ...this.pending } : undefined,
      approvals: [...this.approvals],
      lastError: this.lastError,
      paused: this.paused,
      pauseRequestedBy: this.pauseRequestedBy,
      abortReason: this.abort ? `${this.abort.reason}${this.abort.by ? ` (by ${this.abort.by})` : ''}` : undefined,
      pointOfNoReturnPassed: this.pointOfNoReturnPassed,
      rolledBack: this.rolledBack.length ? [...this.rolledBack] : undefined,
    };
  }
}
