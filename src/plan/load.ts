/**
 * Load and validate a plan file at the edge: parse (YAML or JSON), check the
 * schema, then the cross-field rules. Every problem is reported at once, each
 * with the path of the field and a hint. Nothing here touches a host.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { PlanIssue } from './issues';
import type { Plan } from './schema';
import { checkPlan } from './validate-pure';

/** Exit codes of `cpmigrate plan validate` (and of `start` when the plan is bad). */
export const PLAN_EXIT = { ok: 0, invalid: 2, unreadable: 3, syntax: 4 } as const;

export class PlanError extends Error {
  override readonly name = 'PlanError';
  constructor(
    readonly file: string,
    readonly kind: 'unreadable' | 'syntax' | 'invalid',
    readonly issues: PlanIssue[],
  ) {
    super(`${file}: ${kind === 'invalid' ? `${issues.length} problem(s)` : kind}\n${formatIssues(issues)}`);
  }
  get exitCode(): number {
    return PLAN_EXIT[this.kind];
  }
}

export function formatIssues(issues: PlanIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(file)'}: ${i.message}${i.hint ? `\n      hint: ${i.hint}` : ''}`).join('\n');
}

/** Validate an already-parsed document (every rule, as the workflow checks it). Returns the plan or every issue found. */
export function validatePlan(doc: unknown): { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] } {
  return checkPlan(doc);
}

/** Parse plan text (YAML is a superset of JSON). Throws PlanError. */
export function parsePlanText(text: string, file: string): Plan {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new PlanError(
      file,
      'syntax',
      doc.errors.map((e) => ({
        path: '',
        message: `invalid YAML/JSON at line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`,
        hint: 'check indentation and quoting; `plan validate` accepts YAML and JSON',
      })),
    );
  }
  const result = validatePlan(doc.toJS());
  if (!result.ok) throw new PlanError(file, 'invalid', result.issues);
  return result.plan;
}

/** Read and validate a plan file. Throws PlanError (unreadable/syntax/invalid). */
export async function loadPlan(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PlanError(file, 'unreadable', [
      { path: '', message: `cannot read plan file: ${e.code ?? ''} ${e.message}`.trim(), hint: 'check the path and permissions' },
    ]);
  }
  return parsePlanText(text, file);
}
