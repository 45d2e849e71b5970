/**
 * Named errors. Permanent failures (bad input, safety refusals) are
 * non-retryable by type name: the workflow's retry policies list
 * NON_RETRYABLE_ERROR_TYPES, so Temporal stops retrying them at once.
 * Every class carries readonly context fields for the status view.
 *
 * The workflow's own failures (at the end of this file) are ApplicationFailures:
 * thrown from workflow code, their type name is what clients and tests match.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Thrown when the plan is invalid for the live cluster (e.g. a host in the plan is not a Node). */
export class PlanMismatchError extends Error {
  override readonly name = 'PlanMismatchError';
}

/** Thrown when a mutation would be unsafe: etcd would lose quorum, a member is unhealthy, a learner is stray. */
export class UnsafeOperationError extends Error {
  override readonly name = 'UnsafeOperationError';
  constructor(
    message: string,
    readonly blockers: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Thrown when a host's SSH identity does not match the pinned one: never connect. */
export class HostKeyMismatchError extends Error {
  override readonly name = 'HostKeyMismatchError';
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`host key mismatch for ${host}: expected ${expected}, got ${got}; refusing to connect (check the plan's hostKeyFingerprint or known_hosts)`);
  }
}

/**
 * Thrown when no fingerprint is pinned and known_hosts has no entry for the
 * host. Same type name as HostKeyMismatchError, so it is non-retryable too.
 */
export class UnknownHostKeyError extends HostKeyMismatchError {
  constructor(host: string, got: string, message: string) {
    super(host, '(nothing pinned or known)', got);
    this.message = message;
  }
}

/** Thrown when a host does not answer on its SSH port at all (refused, no route, no handshake): retryable. */
export class HostUnreachableError extends Error {
  override readonly name = 'HostUnreachableError';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when a host refuses our SSH key, or the key file cannot be read. */
export class SshAuthError extends Error {
  override readonly name = 'SshAuthError';
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when a remote command exits non-zero. Retryable: hosts have transient trouble. */
export class RemoteCommandError extends Error {
  override readonly name = 'RemoteCommandError';
  constructor(
    readonly host: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(`${host}: \`${command}\` exited ${exitCode ?? 'by signal'}${stderrTail ? `: ${stderrTail}` : ''}`);
  }
}

/** Thrown when the Kubernetes API rejects our credentials (401/403): fix the kubeconfig. */
export class KubeAuthError extends Error {
  override readonly name = 'KubeAuthError';
}

/** Thrown when another migration holds the cluster's lock (/cpmigrate/lock/<cluster> in its etcd). */
export class LockHeldError extends Error {
  override readonly name = 'LockHeldError';
  constructor(
    readonly cluster: string,
    readonly key: string,
    readonly holderText: string,
    readonly holder?: { workflowId: string; runId: string },
  ) {
    super(
      `cluster ${cluster} is locked by another migration: ${holderText} holds ${key}; nothing was changed. ` +
        `Wait for it, abort it, or, if that workflow no longer exists, break the lock: cpmigrate lock break PLAN --reason "..."`,
    );
  }
}

/** Thrown when `cpmigrate lock break` names a lock whose holder still runs. */
export class LockHolderAliveError extends Error {
  override readonly name = 'LockHolderAliveError';
}

/** Thrown when a plan asks the worker for something its policy file (CPM_WORKER_POLICY) does not allow. */
export class PolicyViolationError extends Error {
  override readonly name = 'PolicyViolationError';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when a control-plane component on a new master runs with flags that differ from the old master's in a way that is not per-host. */
export class FlagParityError extends Error {
  override readonly name = 'FlagParityError';
  constructor(
    message: string,
    readonly differences: readonly string[],
  ) {
    super(message);
  }
}

/** Error type names Temporal must never retry. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'PlanMismatchError',
  'UnsafeOperationError',
  'HostKeyMismatchError',
  'SshAuthError',
  'KubeAuthError',
  'PreflightFailedError',
  'PlanError',
  'LockHeldError',
  'LockHolderAliveError',
  'PolicyViolationError',
  'FlagParityError',
] as const;

// ---------------------------------------------------------------- the workflow's failures

/** Thrown by the workflow when the plan it was started with is invalid (schema or rules): nothing was changed. */
export class PlanInvalidFailure extends ApplicationFailure {
  constructor(message: string) {
    super(message, 'PlanError', true);
  }
}

/** Thrown by the workflow when preflight finds blockers that need a human; details[0] is the preflight report. */
export class PreflightFailedError extends ApplicationFailure {
  constructor(message: string, report: unknown) {
    super(message, 'PreflightFailedError', true, [report]);
  }
}

/** Thrown to reject an approval that does not fit the pending checkpoint (the update fails, the workflow goes on). */
export class ApprovalRejectedFailure extends ApplicationFailure {
  constructor(message: string) {
    super(message, 'ApprovalRejected', true);
  }
}

/** Thrown by the workflow when an operator aborted it (after rolling back, if asked). */
export class MigrationAbortedFailure extends ApplicationFailure {
  constructor(message: string) {
    super(message, 'MigrationAborted', true);
  }
}

/** Thrown when an etcd join failed and removing its learner failed too: retryable, once someone has looked. */
export class EtcdJoinCleanupFailure extends ApplicationFailure {
  constructor(message: string) {
    super(message, 'EtcdJoinCleanupFailed', false);
  }
}

/** Thrown by the workflow when approvals of the decommission checkpoint kept leaving references to old masters unacknowledged. */
export class InventoryUnacknowledgedFailure extends ApplicationFailure {
  constructor(message: string) {
    super(message, 'InventoryUnacknowledged', true);
  }
}
