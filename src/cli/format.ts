/** Human output for status and list: tables, colours only on a TTY. */
import Table from 'cli-table3';
import pc from 'picocolors';
import { formatMs } from '../plan/duration';
import type { Step } from '../plan/steps';
import { describeEvidence } from '../lib/evidence';
import type { MigrationStatus, PendingCheckpoint } from '../shared';

/** Colour on a terminal unless --no-color or NO_COLOR; FORCE_COLOR (not 0/false) forces it on. */
export function colorEnabled(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
  tty: boolean | undefined = process.stdout.isTTY,
): boolean {
  if (argv.includes('--no-color') || (env.NO_COLOR ?? '') !== '') return false;
  if (env.FORCE_COLOR !== undefined && !['0', 'false'].includes(env.FORCE_COLOR)) return true;
  return tty === true && env.TERM !== 'dumb';
}

export const color = pc.createColors(colorEnabled());

function stateColor(state: string): string {
  if (state === 'completed') return color.green(state);
  if (state === 'failed' || state === 'aborted' || state === 'blocked') return color.red(state);
  if (state === 'waiting-approval' || state === 'paused') return color.yellow(state);
  return color.cyan(state);
}

function hhmmss(iso?: string): string {
  return iso ? iso.slice(11, 19) : '';
}

export function renderStatus(s: MigrationStatus, steps?: Step[]): string {
  const out: string[] = [];
  out.push(`${color.bold(s.workflowId)}  cluster ${s.cluster}  state ${stateColor(s.state)}  ${s.completed.length}/${s.totalSteps} steps`);
  const table = new Table({
    head: ['#', 'step', 'host', 'state', 'start', 'end', 'took', 'summary'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [4, 30, 14, 18, 10, 10, 8, 60],
  });
  const done = new Map(s.completed.map((r) => [r.key, r]));
  const keys =
    steps?.map((x) => ({ key: x.key, host: x.kind === 'action' ? x.host : undefined })) ??
    s.steps?.map((x) => ({ key: x.key, host: x.host })) ??
    s.completed.map((r) => ({ key: r.key, host: r.host }));
  keys.forEach(({ key, host }, i) => {
    const r = done.get(key);
    const cur = s.currentStep?.key === key ? s.currentStep : undefined;
    // a step of the running batch (plan.parallelism > 1) runs too
    const running = cur !== undefined || (!r && s.runningTogether?.includes(key) === true);
    const held = cur && s.pendingCheckpoint ? 'waiting-approval' : s.lastError?.step === key ? 'blocked' : 'running';
    const state = r ? 'completed' : running ? held : 'pending';
    const took = r?.endedAt ? formatMs(Date.parse(r.endedAt) - Date.parse(r.startedAt)) : '';
    table.push([
      String(i + 1),
      key.startsWith('checkpoint/') ? key : key.replace(/\/.*$/, ''),
      host ?? '',
      stateColor(state),
      hhmmss(r?.startedAt ?? cur?.startedAt),
      hhmmss(r?.endedAt),
      took,
      r?.summary ?? cur?.waitingFor ?? '',
    ]);
  });
  out.push(table.toString());
  if (s.pendingCheckpoint) {
    const p = s.pendingCheckpoint;
    if (p.details?.length) out.push(`Checkpoint "${p.gate}" approves:`, ...p.details.map((d) => `  - ${d}`));
    out.push(...evidenceLines(p));
    out.push(color.yellow(`Checkpoint "${p.gate}" waiting since ${p.since}${p.overdue ? ' (OVERDUE: past its reminder interval)' : ''}. Approve with:`));
    for (const c of p.approveCommands) out.push(`  ${c}`);
  }
  for (const line of ignoredApprovalLines(s)) out.push(color.yellow(line));
  if (s.lastError) out.push(color.red(`Last error in ${s.lastError.step} (${s.lastError.type ?? 'Error'}): ${s.lastError.message}`));
  if (s.paused) out.push(color.yellow(`Paused${s.pauseRequestedBy ? ` by ${s.pauseRequestedBy}` : ''}: \`cpmigrate resume ${s.workflowId}\` to continue.`));
  if (s.approvals.length) out.push(`Approvals: ${s.approvals.map((a) => `${a.gate} by ${a.by} at ${a.at}${a.reason ? ` (${a.reason})` : ''}`).join('; ')}`);
  if (s.pointOfNoReturnPassed) out.push('Point of no return passed: only forward.');
  if (s.abortReason) out.push(color.red(`Aborted: ${s.abortReason}`));
  return out.join('\n');
}

/** Approvals that did not count: never silent. One sent before its checkpoint was pending must be sent again. */
export function ignoredApprovalLines(s: MigrationStatus): string[] {
  const list = s.ignoredApprovals ?? [];
  if (!list.length) return [];
  const out = [`Ignored approvals (${s.ignoredApprovalCount ?? list.length}; they did NOT approve anything):`];
  for (const a of list) {
    const again = a.early && s.pendingCheckpoint?.gate === a.gate ? ` -> "${a.gate}" is pending now: approve it again` : '';
    out.push(`  ${a.at} ${a.gate ?? '?'} by ${a.by ?? '?'}${a.early ? ' (sent before it was pending)' : ''}: ${a.why}${again}`);
  }
  return out;
}

/** A pending checkpoint's evidence (what the approval approves, by digest) and why an earlier approval did not hold. */
export function evidenceLines(p: PendingCheckpoint): string[] {
  const out: string[] = [];
  if (p.reapproval) {
    out.push(
      `The approval by ${p.reapproval.by} at ${p.reapproval.at} did not hold: ${p.reapproval.lapsed ? 'it lapsed (expiresAfter)' : 'the cluster changed'}; approve again.`,
    );
    for (const c of p.reapproval.changes) out.push(`  changed: ${c}`);
  }
  if (p.evidence) {
    out.push(`Evidence${p.evidence.unreadable ? '' : ` (digest ${p.evidence.digest.slice(0, 12)}, read ${p.evidence.observed.at})`}:`);
    out.push(...describeEvidence(p.evidence).map((l) => `  - ${l}`));
  }
  return out;
}
