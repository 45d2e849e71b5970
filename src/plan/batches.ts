/**
 * Which steps may run at the same time (the plan's `parallelism`). Pure: used
 * by the workflow (src/workflows/batches.ts runs a batch) and by `plan show`.
 *
 * Only steps on the new masters that take no traffic and change no etcd
 * membership are batched: consecutive steps of one of PARALLEL_PHASES, each on
 * a different host, up to `parallelism` at once. Everything else (etcd joins,
 * leaves and removals, checkpoints, the VIP switch, decommission, calico, the
 * client fixes) is a batch of one: strictly one at a time.
 */
import type { ActionStep, Phase, Step } from './steps';

export const PARALLEL_PHASES: readonly Phase[] = ['certificates', 'apiserver', 'apiserver-lb', 'controller-manager-scheduler'];

/** The plan's parallelism (1 when unset). */
export function parallelismOf(plan: { parallelism?: number }): number {
  return plan.parallelism ?? 1;
}

function batchable(step: Step): step is ActionStep & { host: string } {
  return step.kind === 'action' && step.host !== undefined && PARALLEL_PHASES.includes(step.phase);
}

/**
 * The steps in plan order, cut into batches: every step in exactly one batch,
 * the concatenation of the batches is `steps` again. parallelism 1 (or less):
 * every batch has one step.
 */
export function stepBatches(steps: readonly Step[], parallelism: number): Step[][] {
  const out: Step[][] = [];
  for (const step of steps) {
    const last = out.at(-1);
    const head = last?.[0];
    const joins =
      last !== undefined &&
      head !== undefined &&
      batchable(step) &&
      batchable(head) &&
      head.phase === step.phase &&
      last.length < parallelism &&
      !last.some((s) => s.kind === 'action' && s.host === step.host);
    if (joins) last.push(step);
    else out.push([step]);
  }
  return out;
}
