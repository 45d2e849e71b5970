/**
 * Plan validation without I/O, for the workflow itself: a plan started with
 * the plain `temporal` CLI (raw JSON, no defaults) is checked and completed
 * the same way `cpmigrate plan validate` does, and an invalid one fails the
 * workflow at once with every problem listed.
 *
 * The schema and these rules are workflow code: a new rule must be gated
 * (the workflow passes runtimeChecks: patched(...)) or a migration recorded
 * under the old rules could fail on replay (test/replay.test.ts).
 */
import { zodIssues, type PlanIssue } from './issues';
import { planSchema, type Plan } from './schema';
import { semanticIssues } from './semantic';

/** The one plan validator: the schema, then the cross-field rules; every problem at once. */
export function checkPlan(
  doc: unknown,
  opts: { runtimeChecks?: boolean; anyShape?: boolean } = {},
): { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] } {
  const parsed = planSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, issues: zodIssues(parsed.error) };
  const issues = semanticIssues(parsed.data, opts);
  return issues.length ? { ok: false, issues } : { ok: true, plan: parsed.data };
}
