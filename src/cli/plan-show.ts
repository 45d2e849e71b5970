/** Human rendering of the step list: what will happen, where, and the etcd quorum after each change. */
import { formatMemberCount } from '../plan/shape';
import type { Plan } from '../plan/schema';
import { shapeProjection, type Step } from '../plan/steps';
import { parallelismOf, stepBatches } from '../plan/batches';
import { color } from './format';

/** The planner's projection: strategy, start, every membership change, final; steps below the start's tolerance marked. */
export function renderShape(plan: Plan): string[] {
  const shape = shapeProjection(plan);
  const out = [
    color.bold(
      `Shape: ${plan.oldMasters.length} → ${plan.newMasters.length} masters, strategy ${shape.strategy} (${shape.strategyWhy}); peak ${shape.peak} etcd members`,
    ),
    ...(shape.shared.length ? [`  kept (in both lists, untouched): ${shape.shared.join(', ')}`] : []),
    ...(shape.failed.length ? [color.yellow(`  failed (removed first, nothing run there): ${shape.failed.join(', ')}`)] : []),
    `  start:  ${formatMemberCount(shape.start)}`,
  ];
  shape.steps.forEach((s, i) => {
    const line = `  ${String(i + 1).padStart(2)}. ${s.op.padEnd(13)} ${s.host.padEnd(14)} → ${formatMemberCount(s)}`;
    out.push(s.belowStart ? color.red(`${line}  ⚠ below the starting cluster's ${shape.start.tolerates}`) : line);
  });
  out.push(`  final:  ${formatMemberCount(shape.final)}; worst step tolerates ${shape.worstTolerates}`);
  for (const w of shape.warnings) out.push(color.yellow(`  warning (${w.path}): ${w.message}`));
  return out;
}

export function renderPlanShow(plan: Plan, steps: Step[]): string {
  const out: string[] = [
    color.bold(`Migration of ${plan.cluster}: ${plan.oldMasters.map((h) => h.name).join(', ')} → ${plan.newMasters.map((h) => h.name).join(', ')}`),
    ...renderShape(plan),
    ...(parallelismOf(plan) > 1 ? [`parallelism ${parallelismOf(plan)}: the steps marked ⇉ run at the same time; everything else one at a time`] : []),
    '',
  ];
  // the first step of each batch of more than one (src/plan/batches.ts) → its step numbers
  const together = new Map<number, number[]>();
  let at = 0;
  for (const b of stepBatches(steps, parallelismOf(plan))) {
    if (b.length > 1)
      together.set(
        at,
        b.map((_, j) => at + j + 1),
      );
    at += b.length;
  }
  steps.forEach((s, i) => {
    const n = String(i + 1).padStart(2);
    const batch = together.get(i);
    if (batch) out.push(color.bold(`    ⇉ steps ${batch.join(', ')} run at the same time`));
    if (s.kind === 'checkpoint') {
      out.push(color.yellow(`${n}. ⏸ ${s.title}  [approve: cpmigrate approve <id> ${s.gate}]`));
    } else {
      out.push(`${n}. ${s.title}${s.host ? ` (${s.host})` : ''}`);
    }
    for (const d of s.does) out.push(`      - ${d}`);
    if (s.kind === 'action' && s.etcdAfter) {
      const line = `      etcd after: ${formatMemberCount(s.etcdAfter)}`;
      out.push(s.etcdAfter.belowStart ? color.red(`${line}  ⚠ below the starting cluster's tolerance`) : color.dim(line));
    }
    if (s.kind === 'action' && s.pointOfNoReturn) out.push(color.red('      ⚠ point of no return: after this step, only forward (abort no longer rolls back)'));
  });
  return out.join('\n');
}
