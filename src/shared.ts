/**
 * Every message the migration workflow understands, in one module shared by
 * the workflow, the CLI and the tests, so calls are type-checked end to end.
 * Plain `temporal` CLI users send the same names:
 *   temporal workflow signal --name approve --input '{"gate":"switch-traffic","by":"alice"}'
 *   temporal workflow query  --type status
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CheckpointEvidence } from './lib/evidence';
import type { GateId, Plan } from './plan/schema';

export const TASK_QUEUE = 'cpmigrate';
export const WORKFLOW_TYPE = 'migrateControlPlane';
/** `cpmigrate lock break`: breaks a stale cluster lock, recorded (src/workflows/lock-break.ts) */
export const BREAK_LOCK_WORKFLOW_TYPE = 'breakClusterLock';

/** One migration per cluster at a time: the workflow id is derived from the cluster name. */
export function workflowIdFor(cluster: string): string {
  return `cpmigrate-${cluster}`;
}

export interface Approval {
  gate: GateId;
  /** who approves (free text: a user name) */
  by?: string;
  /** why (ticket, note) */
  reason?: string;
  /** decommission: references to old masters the operator accepts leaving as they are (ids from the checkpoint's details) */
  ack?: string[];
  /**
   * the digest of the checkpoint's evidence the approver saw (hex, at least 8 characters of it): an
   * approval of evidence that is not the pending one is rejected; without it, the pending evidence is approved
   */
  evidenceDigest?: string;
}

export interface AbortRequest {
  reason: string;
  by?: string;
  /** undo completed steps (newest first) before stopping; refused after the point of no return */
  rollback?: boolean;
}

export interface MigrationInput {
  plan: Plan;
  /**
   * optional features; the CLI sets searchAttributes when the server has them registered.
   * resume: the cluster is part-way through an earlier run of this plan (that workflow was
   * terminated or lost): preflight accepts it, every step re-runs idempotently, and rollback is
   * off (the earlier run may have passed the point of no return).
   */
  features?: { searchAttributes?: boolean; resume?: boolean };
}

export type StepState = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';

export interface StepRecord {
  key: string;
  phase: string;
  host?: string;
  startedAt: string;
  endedAt?: string;
  summary?: string;
  state: StepState;
}

export interface ApprovalRecord {
  gate: GateId;
  by: string;
  reason?: string;
  at: string;
  /** references to old masters acknowledged with this approval (decommission) */
  ack?: string[];
  /** the digest of the evidence this approval approved (the checkpoint's, when it was taken) */
  evidenceDigest?: string;
}

/** An approval that did not count (sent by signal, or an update that got past validation), kept for status. */
export interface IgnoredApproval {
  gate?: string;
  by?: string;
  at: string;
  why: string;
  /** for a checkpoint of this migration that was not pending yet: it must be sent again once it is */
  early: boolean;
}

export interface PendingCheckpoint {
  gate: GateId;
  since: string;
  remindAfterMs: number;
  /** true once the checkpoint has waited longer than remindAfter: it never approves itself */
  overdue: boolean;
  /** the exact commands that approve it */
  approveCommands: string[];
  /** what exactly is approved (client-fixes: every change; preflight-ack: user kubeconfigs to confirm, warnings; decommission: the inventory) */
  details?: string[];
  /** decommission: the references to old masters the approval must acknowledge (`--ack`) unless they are fixed first */
  toAcknowledge?: string[];
  /** the cluster as read when the checkpoint began waiting (src/lib/evidence.ts): what an approval approves, by its digest */
  evidence?: CheckpointEvidence;
  /** why the last approval did not hold: the cluster changed since (every difference) and/or it lapsed (expiresAfter) */
  reapproval?: { by: string; at: string; why: string; changes: string[]; lapsed: boolean };
}

export interface MigrationStatus {
  cluster: string;
  workflowId: string;
  state: 'running' | 'waiting-approval' | 'paused' | 'blocked' | 'completed' | 'failed' | 'aborted';
  currentStep?: { key: string; phase: string; host?: string; startedAt: string; waitingFor?: string };
  /** the other steps running at the same time as currentStep (plan.parallelism > 1); absent when one step runs */
  runningTogether?: string[];
  completed: StepRecord[];
  totalSteps: number;
  /** every step of this migration, in order (done, current and to come) */
  steps?: Array<{ key: string; host?: string; title: string }>;
  pendingCheckpoint?: PendingCheckpoint;
  approvals: ApprovalRecord[];
  lastError?: { step: string; message: string; type?: string; at: string };
  paused: boolean;
  pauseRequestedBy?: string;
  abortReason?: string;
  /** an abort that arrived after the point of no return: refused, the migration paused instead */
  abortRefused?: string;
  pointOfNoReturnPassed: boolean;
  /** steps undone by `abort --rollback`, newest first */
  rolledBack?: string[];
  /** approvals that did not count, the newest 20 (e.g. sent before their checkpoint was pending) */
  ignoredApprovals?: IgnoredApproval[];
  /** how many approvals were ignored in all */
  ignoredApprovalCount?: number;
  /** the cluster lock (/cpmigrate/lock/<cluster> in the cluster's etcd): taken in preflight, released at the end */
  clusterLock?: { held: boolean; summary?: string; problem?: string };
}

export const approveSignal = defineSignal<[Approval]>('approve');
export const abortSignal = defineSignal<[AbortRequest]>('abort');
export const pauseSignal = defineSignal<[{ by?: string; reason?: string }?]>('pause');
export const resumeSignal = defineSignal<[{ by?: string }?]>('resume');

/** Synchronous, validated approval: rejected (nothing recorded) for a wrong gate or no pending checkpoint. */
export const approveUpdate = defineUpdate<ApprovalRecord, [Approval]>('approve-checkpoint');

export const statusQuery = defineQuery<MigrationStatus>('status');
