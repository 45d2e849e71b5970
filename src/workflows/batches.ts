/**
 * A batch of steps run at the same time (plan.parallelism > 1; which steps
 * batch is src/plan/batches.ts). Each step is still its own step: its own
 * compensation (registered in plan order before the batch starts), its own
 * completed record and summary. A failure waits for the others of the batch to
 * finish (or fail), keeps the completed ones completed, and holds for an
 * operator on the first failed one; resume retries only the failed ones.
 */
import { log } from '@temporalio/workflow';
import type { ActionStep } from '../plan/steps';
import { Aborted } from './aborted';
import { compensationFor, type Compensation } from './compensation';
import { runAction, type Ctx } from './runners';
import type { MigrationState } from './state';

export interface BatchDeps {
  st: MigrationState;
  ctx: () => Ctx;
  compensations: Compensation[];
  publish: () => void;
  holdIfPaused: () => Promise<void>;
  checkAbort: () => void;
  /** the failed-step hold (migration.ts): records the error, pauses, waits for resume (returns) or abort (throws) */
  holdFailed: (step: ActionStep, err: unknown, note?: string) => Promise<void>;
}

/** Progress of one step of a batch: prefixed with its host, so status says whose wait it is. */
function stepCtx(ctx: Ctx, step: ActionStep): Ctx {
  return { ...ctx, progress: (what) => ctx.progress(`${step.host ?? step.key}: ${what}`) };
}

export async function runBatch(d: BatchDeps, batch: readonly ActionStep[]): Promise<void> {
  const { st } = d;
  await d.holdIfPaused();
  d.checkAbort();
  // registered before the steps run, in plan order: an abort mid-batch undoes their partial effect too
  for (const step of batch) {
    const undo = compensationFor(d.ctx(), step);
    if (undo) d.compensations.push(undo);
  }
  let todo = [...batch];
  for (;;) {
    st.startBatch(todo);
    d.publish();
    const settled = await Promise.allSettled(todo.map((step) => runAction(stepCtx(d.ctx(), step), step)));
    const failed: Array<{ step: ActionStep; err: unknown }> = [];
    todo.forEach((step, i) => {
      const r = settled[i];
      if (r?.status === 'fulfilled') {
        st.completeStep(step, r.value);
        log.info('step completed', { step: step.key, summary: r.value, batch: todo.length });
      } else failed.push({ step, err: r?.reason });
    });
    d.publish();
    const first = failed[0];
    if (!first) return;
    const aborted = failed.find((f) => f.err instanceof Aborted);
    if (aborted) throw aborted.err;
    const rest = failed.slice(1);
    st.focus(
      first.step,
      rest.map((f) => f.step),
    );
    const note = rest.length ? ` (also failed in this batch: ${rest.map((f) => f.step.key).join(', ')}; resume retries them too)` : '';
    await d.holdFailed(first.step, first.err, note);
    todo = failed.map((f) => f.step);
  }
}
