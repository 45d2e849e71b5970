/** The workflow's "current details" (markdown) for the Temporal Web UI. Pure. */
import { describeEvidence } from '../lib/evidence';
import type { Step } from '../plan/steps';
import type { MigrationState } from './state';

export function renderDetails(st: MigrationState, steps: Step[]): string {
  const s = st.status();
  const lines: string[] = [
    `## ${s.cluster}: ${s.state}`,
    `${s.completed.length}/${s.totalSteps} steps done · old ${st.plan.oldMasters.map((h) => h.name).join(', ')} → new ${st.plan.newMasters.map((h) => h.name).join(', ')}`,
    '',
  ];
  if (s.currentStep) {
    const step = steps.find((x) => x.key === s.currentStep?.key);
    lines.push(`**Now:** ${step?.title ?? s.currentStep.key}${s.currentStep.host ? ` on \`${s.currentStep.host}\`` : ''}`);
    if (s.currentStep.waitingFor) lines.push(`**Waiting for:** ${s.currentStep.waitingFor}`);
    if (s.runningTogether) lines.push(`**At the same time:** ${s.runningTogether.map((k) => `\`${k}\``).join(', ')}`);
  }
  if (s.pendingCheckpoint) {
    lines.push('', `**Checkpoint \`${s.pendingCheckpoint.gate}\` needs approval**${s.pendingCheckpoint.overdue ? ' (overdue)' : ''}:`, '');
    for (const d of s.pendingCheckpoint.details ?? []) lines.push(`- ${d}`);
    if (s.pendingCheckpoint.details?.length) lines.push('');
    const ev = s.pendingCheckpoint.evidence;
    const again = s.pendingCheckpoint.reapproval;
    if (again)
      lines.push(
        `**The approval by ${again.by} did not hold** (${again.lapsed ? 'lapsed' : 'the cluster changed'}):`,
        '',
        ...again.changes.map((c) => `- ${c}`),
        '',
      );
    if (ev) lines.push(`**Evidence**${ev.unreadable ? '' : ` \`${ev.digest.slice(0, 12)}\``}:`, '', ...describeEvidence(ev).map((l) => `- ${l}`), '');
    for (const c of s.pendingCheckpoint.approveCommands) lines.push('```', c, '```');
    const early = (s.ignoredApprovals ?? []).filter((a) => a.early && a.gate === s.pendingCheckpoint?.gate);
    if (early.length)
      lines.push('', `_${early.map((a) => `${a.by ?? '?'} at ${a.at}`).join(', ')} approved this before it was pending: that did not count, approve again._`);
  }
  if (s.lastError) lines.push('', `**Last error** in \`${s.lastError.step}\`: ${s.lastError.message}`);
  if (s.pointOfNoReturnPassed) lines.push('', '_Point of no return passed: only forward._');
  if (s.abortReason) lines.push('', `**Aborted:** ${s.abortReason}`);
  return lines.join('\n');
}
