/** The preflight step in the workflow: read-only checks, blockers fail the migration before anything changes. Workflow code. */
import type { PreflightReport } from '../activities/types';
import { PreflightFailedError } from '../errors';
import type { MigrationInput } from '../shared';
import type { Proxies } from './activities';

/** Unverified Nodes and other warnings, for the preflight-ack checkpoint's details. */
export function preflightNotesOf(report: PreflightReport): string[] {
  return report.warnings.map((w) => `warning ${w.reason}${w.subject ? ` [${w.subject}]` : ''}: ${w.message}`);
}

/**
 * @param clientFixes the client-fixes step will apply the fixable blockers (after its checkpoint):
 *   only the others stop the migration here.
 */
export async function preflight(
  input: MigrationInput,
  { quick }: Proxies,
  progress: (w: string) => void,
  clientFixes: boolean,
): Promise<{ summary: string; report: PreflightReport }> {
  progress('preflight checks (read-only)');
  const report = input.features?.resume === true ? await quick.preflight(input.plan, 'resume') : await quick.preflight(input.plan);
  const fixable = clientFixes ? report.blockers.filter((b) => b.fixable) : [];
  if (report.blockers.length > fixable.length) {
    throw new PreflightFailedError(
      `preflight found ${report.blockers.length} blocker(s); nothing was changed:\n` +
        report.blockers.map((b) => `  * ${b.reason}${b.subject ? ` [${b.subject}]` : ''}: ${b.message}${b.fix ? `\n      fix: ${b.fix}` : ''}`).join('\n'),
      report,
    );
  }
  const n = report.nodes;
  const nodes = n
    ? `; kubelets checked on ${n.checked} node(s) (${n.fromApi} found through the API)${n.unverified.length ? `, ${n.unverified.length} unverified` : ''}`
    : '';
  const fixes = fixable.length ? `; ${fixable.length} client fix(es) for the client-fixes checkpoint` : '';
  return { summary: `${report.checked.length} checks passed${report.warnings.length ? `, ${report.warnings.length} warning(s)` : ''}${fixes}${nodes}`, report };
}
