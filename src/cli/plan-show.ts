/** Human rendering of the step list: what will happen, where, and the etcd quorum after each change. */
import type { Plan } from '../plan/schema';
import type { Step } from '../plan/steps';
import { color } from './format';

export function renderPlanShow(plan: Plan, steps: Step[]): string {
  const out: string[] = [
    color.bold(`Migration of ${plan.cluster}: ${plan.oldMasters.map((h) => h.name).join(', ')} → ${plan.newMasters.map((h) => h.name).join(', ')}`),
    '',
  ];
  steps.forEach((s, i) => {
    const n = String(i + 1).padStart(2);
    if (s.kind === 'checkpoint') {
      out.push(color.yellow(`${n}. ⏸ ${s.title}  [approve: cpmigrate approve <id> ${s.gate}]`));
    } else {
      out.push(`${n}. ${s.title}${s.host ? ` (${s.host})` : ''}`);
    }
    for (const d of s.does) out.push(`      - ${d}`);
    if (s.kind === 'action' && s.etcdMembersAfter) {
      const voters = s.etcdMembersAfter.length;
      const quorum = Math.floor(voters / 2) + 1;
      out.push(color.dim(`      etcd after: ${voters} voters [${s.etcdMembersAfter.join(', ')}], quorum ${quorum}, tolerates ${voters - quorum} failure(s)`));
    }
    if (s.kind === 'action' && s.pointOfNoReturn) out.push(color.red('      ⚠ point of no return: after this step, only forward (abort no longer rolls back)'));
  });
  return out.join('\n');
}
