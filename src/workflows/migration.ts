/**
 * migrateControlPlane: the runbook as one durable workflow.
 *
 * Steps come from src/plan/steps.ts (the same list `plan show` prints) and run
 * in order, one host at a time (with plan.parallelism > 1, the new masters'
 * traffic-free steps in batches: src/workflows/batches.ts). Completed steps are kept in state, so a
 * resumed or replayed run never repeats one. A step that fails for good holds
 * the migration for a human (resume retries it, abort ends it); before any
 * change (preflight) it fails the workflow instead, since nothing was touched.
 */
import { ApplicationFailure, condition, log, patched, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ApprovalRejectedFailure, MigrationAbortedFailure, PlanInvalidFailure } from '../errors';
import { durationMs } from '../plan/duration';
import { checkPlan } from '../plan/validate-pure';
import { checkpointOf, etcdUsesTls, migrationSteps, type ActionStep, type CheckpointStep } from '../plan/steps';
import { parallelismOf, stepBatches } from '../plan/batches';
import { describeFix, type ClientFix } from '../plan/client-fix';
import { CpmCluster, CpmPendingGate, CpmStep } from '../search-attributes';
import {
  type PendingCheckpoint,
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  type MigrationInput,
  type MigrationStatus,
} from '../shared';
import { activityProxies } from './activities';
import { renderDetails } from './details';
import { Aborted } from './aborted';
import { compensationFor, type Compensation } from './compensation';
import { runAction, type Ctx } from './runners';
import { runBatch } from './batches';
import { preflight, preflightNotesOf } from './preflight';
import { ClusterLock } from './lock';
import { decommissionGate } from './inventory';
import { approveCommands, EvidenceGate, knownEvidence, type WaitForApproval } from './evidence';
import type { OldMasterRef } from '../lib/old-master-refs';
import { MigrationState } from './state';

export interface MigrationResult {
  cluster: string;
  steps: number;
  approvals: MigrationStatus['approvals'];
}

export async function migrateControlPlane(input: MigrationInput): Promise<MigrationResult> {
  const runtimeChecks = patched('plan-runtime-checks');
  // patched(): a migration started before any shape was accepted replays with the old rule (exactly 3 → 3)
  const checked = checkPlan(input.plan, { runtimeChecks, anyShape: patched('any-shape') });
  if (!checked.ok) {
    throw new PlanInvalidFailure(`invalid plan (nothing was changed):\n${checked.issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`);
  }
  const plan = checked.plan;
  // patched(): a TLS migration started before the etcd-certs step existed replays without it
  // (test/histories/v2-etcd-tls.json.gz); only TLS plans ask, so plain-http histories are unchanged.
  const etcdCerts = !etcdUsesTls(plan) || patched('etcd-certs-step');
  // the client-fixes gate is opt-in: off, nothing here runs (no marker), so recorded histories replay unchanged
  const clientFixesOn = plan.checkpoints['client-fixes'].enabled && patched('client-fixes-step');
  const steps = migrationSteps(plan, { etcdCerts, clientFixes: clientFixesOn });
  let clientFixes: ClientFix[] = [];
  let preflightNotes: string[] = [];
  /** the decommission checkpoint's inventory (src/workflows/inventory.ts) */
  let decommissionDetails: { details: string[]; toAcknowledge: string[]; refs?: readonly OldMasterRef[] } | undefined;
  const st = new MigrationState(plan, steps);
  // patched(): migrations started before the cluster lock existed replay without taking it (asked once, here)
  const lock = patched('cluster-lock') ? new ClusterLock(plan) : undefined;
  const releaseLock = async (): Promise<void> => {
    const summary = await lock?.release();
    if (summary) st.clusterLock = { held: false, summary, problem: lock?.problem };
  };
  const resume = input.features?.resume === true;
  // a resumed run cannot know whether the earlier one passed the point of no return: only forward
  if (resume) st.pointOfNoReturnPassed = true;
  const preflightInput = { ...input, plan };
  const searchAttributes = input.features?.searchAttributes === true;
  const proxies = activityProxies(plan.timeouts);
  const compensations: Compensation[] = [];

  // Handlers never throw on bad payloads (that would fail every workflow task
  // replaying the signal): they ignore it and say why in status and the log.
  const safely =
    <A extends unknown[]>(name: string, fn: (...a: A) => void) =>
    (...a: A): void => {
      try {
        fn(...a);
      } catch (e) {
        log.error('message handler failed; message ignored', { message: name, error: (e as Error).message });
      }
    };
  setHandler(statusQuery, () => st.status());
  setHandler(
    approveSignal,
    safely('approve', (a) => {
      if (!st.approve(a)) log.warn('approval ignored', { why: st.ignoredApprovals.at(-1)?.why });
      publish();
    }),
  );
  setHandler(
    approveUpdate,
    (a) => {
      const rec = st.approve(a);
      if (!rec) throw new ApprovalRejectedFailure(st.approvalProblem(a) ?? 'rejected');
      return rec;
    },
    {
      validator: (a) => {
        const problem = st.approvalProblem(a);
        if (problem) throw new Error(problem);
      },
    },
  );
  setHandler(
    abortSignal,
    safely('abort', (r) => {
      st.requestAbort(r);
      if (st.abortRefused) log.warn(st.abortRefused);
      publish();
    }),
  );
  setHandler(
    pauseSignal,
    safely('pause', (p) => {
      st.pause((p as { by?: unknown } | undefined)?.by);
      publish();
    }),
  );
  setHandler(
    resumeSignal,
    safely('resume', () => {
      st.resume();
      publish();
    }),
  );

  let published = '';
  const publish = (): void => {
    setCurrentDetails(renderDetails(st, steps));
    const values = [plan.cluster, st.current?.key ?? st.finished ?? 'between-steps', st.pending?.gate ?? 'none'] as const;
    if (searchAttributes && values.join('|') !== published) {
      published = values.join('|');
      upsertSearchAttributes([
        { key: CpmCluster, value: values[0] },
        { key: CpmStep, value: values[1] },
        { key: CpmPendingGate, value: values[2] },
      ]);
    }
  };
  const progress = (what: string): void => {
    st.waitingFor(what);
    publish();
  };
  const checkAbort = (): void => {
    if (st.abort) throw new Aborted(st.abort.reason);
  };
  /** Inside a step, right before a change that cannot simply be undone: honour abort and pause. */
  const beforeIrreversible = async (what: string): Promise<void> => {
    checkAbort();
    if (st.paused) {
      progress(`paused before: ${what}; send resume to continue`);
      await condition(() => !st.paused || st.abort !== undefined);
      checkAbort();
    }
  };
  const ctx = (): Ctx => ({ plan, progress, beforeIrreversible, ...proxies, clientFixes });

  /** Hold before the next step while paused; abort still gets through. */
  const holdIfPaused = async (): Promise<void> => {
    if (!st.paused) return;
    progress(`paused${st.pauseRequestedBy ? ` by ${st.pauseRequestedBy}` : ''}: send resume to continue`);
    await condition(() => !st.paused || st.abort !== undefined);
    checkAbort();
  };

  const waitForApproval: WaitForApproval = async (step: CheckpointStep, extra: Partial<PendingCheckpoint> = {}): Promise<string> => {
    if (st.isApproved(step.gate)) return 'approved earlier';
    const id = workflowInfo().workflowId;
    const remindAfterMs = durationMs(checkpointOf(plan, step.gate).remindAfter);
    st.pending = {
      gate: step.gate,
      since: new Date().toISOString(),
      remindAfterMs,
      overdue: false,
      approveCommands: approveCommands(id, step.gate, extra.evidence && !extra.evidence.unreadable ? extra.evidence.digest : undefined),
      ...checkpointDetails(step),
      ...extra,
    };
    progress(`approval of checkpoint "${step.gate}"${extra.reapproval ? ' again: the approval before did not hold (see the checkpoint)' : ''}`);
    const decided = () => st.isApproved(step.gate) || st.abort !== undefined;
    // Wait; past remindAfter, say so in status and keep waiting: never self-approve.
    if (!(await condition(decided, remindAfterMs))) {
      st.pending.overdue = true;
      log.warn('checkpoint overdue', { gate: step.gate, waitingMs: remindAfterMs });
      publish();
      await condition(decided);
    }
    st.pending = undefined;
    checkAbort();
    const rec = st.approvals.find((r) => r.gate === step.gate);
    return `approved by ${rec?.by ?? '?'}${rec?.reason ? ` (${rec.reason})` : ''}`;
  };

  /** What a human approves at this checkpoint, beyond its title: the exact client changes; the user kubeconfigs and unverified Nodes. */
  const checkpointDetails = (step: CheckpointStep): { details?: string[]; toAcknowledge?: string[] } => {
    if (step.gate === 'client-fixes') return { details: clientFixes.map(describeFix) };
    if (step.gate === 'decommission' && decommissionDetails)
      return decommissionDetails.toAcknowledge.length ? decommissionDetails : { details: decommissionDetails.details };
    if (step.gate === 'preflight-ack') {
      const details = [
        ...plan.clients.userKubeconfigs.map((k) => `confirm this user kubeconfig uses https://${plan.loadBalancer.vip}:${plan.loadBalancer.port}: ${k}`),
        ...preflightNotes,
      ];
      return details.length ? { details } : {};
    }
    return {};
  };

  const evidence = new EvidenceGate({
    plan,
    quick: proxies.quick,
    st,
    progress,
    holdIfPaused,
    known: (g) => knownEvidence(g, st, clientFixes, decommissionDetails?.refs),
  });
  /** A checkpoint that waits for its approval: with the inventory (decommission) and its evidence (src/workflows/evidence.ts). */
  const checkpoint = async (step: CheckpointStep): Promise<string> => {
    // patched(): migrations that reached this checkpoint before the inventory / the evidence existed replay without them
    const inventory = step.gate === 'decommission' && patched('decommission-inventory');
    const ev = patched('checkpoint-evidence') ? evidence : undefined;
    if (!inventory) return ev ? ev.approve(step, waitForApproval) : waitForApproval(step);
    return decommissionGate(
      {
        plan,
        quick: proxies.quick,
        st,
        progress,
        waitForApproval: ev ? (s) => ev.present(s, waitForApproval) : waitForApproval,
        setDetails: (details, toAcknowledge, refs) => (decommissionDetails = { details, toAcknowledge, refs }),
        ...(ev ? { beforeActing: (s: CheckpointStep, refs: readonly OldMasterRef[]) => ev.recheck(s, knownEvidence(s.gate, st, clientFixes, refs)) } : {}),
      },
      step,
      workflowInfo().workflowId,
    );
  };

  /** An action step failed for good: hold for a human; returns on resume (retry it), throws on abort. */
  const holdFailed = async (step: ActionStep, err: unknown, note = ''): Promise<void> => {
    if (err instanceof Aborted) throw err;
    const failure = err as Error & { cause?: Error };
    const cause = (failure.cause ?? failure) as Error & { type?: string };
    st.lastError = { step: step.key, message: cause.message, type: cause.type ?? cause.name, at: new Date().toISOString() };
    log.error('step failed; holding for an operator', { step: step.key, error: cause.message });
    st.pause('cpmigrate (step failed)');
    progress(`operator: step failed (${cause.message.slice(0, 200)})${note}; fix the cause, then resume (retry) or abort`);
    await condition(() => !st.paused || st.abort !== undefined);
    checkAbort();
    st.lastError = undefined;
  };

  /** Run one action step; on failure, hold for a human (resume = retry, abort = stop). */
  const runHeld = async (step: ActionStep): Promise<string> => {
    for (;;) {
      try {
        return await runAction(ctx(), step);
      } catch (err) {
        await holdFailed(step, err);
        st.startStep(step);
      }
    }
  };

  // patched() only when asked for: a plan without parallelism records no marker, so its history is today's
  const batches = parallelismOf(plan) > 1 && patched('parallel-steps') ? stepBatches(steps, parallelismOf(plan)) : steps.map((s) => [s]);
  const batchDeps = { st, ctx, compensations, publish, holdIfPaused, checkAbort, holdFailed };

  try {
    for (const batch of batches) {
      const todo = batch.filter((s) => !st.completed.has(s.key));
      if (todo.length > 1) {
        // only action steps batch (src/plan/batches.ts)
        await runBatch(batchDeps, todo as ActionStep[]);
        continue;
      }
      const step = todo[0];
      if (!step) continue;
      await holdIfPaused();
      checkAbort();
      st.startStep(step);
      publish();
      if (step.kind === 'action') {
        // registered before the step runs: an abort mid-step undoes its partial effect too
        // (every compensation is idempotent, so undoing what did not happen is a no-op)
        const undo = compensationFor(ctx(), step);
        if (undo) compensations.push(undo);
      }
      let summary: string;
      if (step.kind === 'checkpoint') {
        // nothing to change: nothing to approve (the checkpoint passes, and says so)
        summary = step.gate === 'client-fixes' && !clientFixes.length ? 'nothing to fix: every client already uses the LB' : await checkpoint(step);
      } else if (step.phase === 'preflight') {
        // the lock first: a second migration of this cluster fails here, naming the holder, before anything else
        const locked = lock
          ? await lock.take().catch((e: Error) => {
              st.lastError = { step: step.key, message: e.message, type: (e as ApplicationFailure).type ?? e.name, at: new Date().toISOString() };
              throw e;
            })
          : undefined;
        if (locked) st.clusterLock = { held: true, summary: locked };
        const pf = await preflight(preflightInput, proxies, progress, clientFixesOn).catch((e: Error) => {
          st.lastError = { step: step.key, message: e.message, type: (e as ApplicationFailure).type ?? e.name, at: new Date().toISOString() };
          throw e;
        });
        summary = locked ? `${pf.summary}; ${locked}` : pf.summary;
        if (clientFixesOn) clientFixes = pf.report.clientFixes ?? [];
        preflightNotes = preflightNotesOf(pf.report);
      } else {
        summary = await runHeld(step);
      }
      st.completeStep(step, summary);
      log.info('step completed', { step: step.key, summary });
      publish();
    }
  } catch (err) {
    if (err instanceof Aborted) {
      const by = st.abort?.by ? ` by ${st.abort.by}` : '';
      const where = st.pointOfNoReturnPassed ? 'after the point of no return' : 'before the point of no return';
      const rollback = st.abort?.rollback ? await rollBack(st, compensations, progress, patched('rollback-holds-on-failure')) : '';
      await releaseLock();
      st.finished = 'aborted';
      publish();
      throw new MigrationAbortedFailure(`migration aborted${by}: ${err.message} (${st.completed.size}/${steps.length} steps done, ${where})${rollback}`);
    }
    await releaseLock();
    st.finished = 'failed';
    publish();
    throw err;
  }
  await releaseLock();
  st.finished = 'completed';
  publish();
  return { cluster: plan.cluster, steps: steps.length, approvals: st.approvals };
}

/**
 * Undo completed steps newest first; refuse past the point of no return. A
 * compensation that fails for good holds the rollback for an operator (the
 * cluster is half rolled back: ending here would leave no way on): resume
 * retries it, a second abort stops rolling back. Returns a sentence for the
 * failure message.
 */
async function rollBack(st: MigrationState, compensations: Compensation[], progress: (w: string) => void, holdOnFailure: boolean): Promise<string> {
  if (st.pointOfNoReturnPassed) {
    log.warn('rollback refused: past the point of no return');
    return '; rollback refused: old etcd members are already removed, only forward is possible';
  }
  for (const c of [...compensations].reverse()) {
    for (;;) {
      progress(`rolling back ${c.step}: ${c.what}`);
      try {
        await c.run();
        st.rolledBack.push(c.step);
        st.lastError = undefined;
        break;
      } catch (e) {
        const message = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        st.lastError = { step: `rollback ${c.step}`, message, at: new Date().toISOString() };
        const stopped = `; rollback stopped at ${c.step} (${c.what}): ${message}; rolled back: ${st.rolledBack.join(', ') || 'nothing'}`;
        if (!holdOnFailure) return stopped;
        const repeats = st.abortRepeats;
        st.pause('cpmigrate (rollback step failed)');
        log.error('rollback step failed; holding for an operator', { step: c.step, error: message });
        progress(
          `operator: rolling back ${c.step} failed (${message.slice(0, 200)}); fix the cause, then resume (retry it) or abort again (stop rolling back)`,
        );
        await condition(() => !st.paused || st.abortRepeats > repeats);
        if (st.abortRepeats > repeats) return `${stopped} (operator stopped the rollback)`;
      }
    }
  }
  return `; rolled back ${st.rolledBack.length} step(s): ${st.rolledBack.join(', ') || 'nothing to undo'}`;
}
