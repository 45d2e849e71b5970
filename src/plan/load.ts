/**
 * Load and validate a plan file at the edge: parse (YAML or JSON), check the
 * schema, then the cross-field rules. Every problem is reported at once, each
 * with the path of the field and a hint. Nothing here touches a host.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { planSchema, type Plan } from './schema';
import { semanticIssues } from './semantic';

export interface PlanIssue {
  /** dotted path of the field, e.g. newMasters[1].address; "" for the whole file */
  path: string;
  message: string;
  hint?: string;
}

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
  return issues
    .map((i) => `  - ${i.path || '(file)'}: ${i.message}${i.hint ? `\n      hint: ${i.hint}` : ''}`)
    .join('\n');
}

function dotted(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

const HINTS: Array<[RegExp, string]> = [
  [/^(oldMasters|newMasters)\[\d+\]\.ssh\.hostKeyFingerprint$/, 'run `ssh-keyscan HOST | ssh-keygen -lf -` and copy the SHA256:... field'],
  [/\.etcd\.peerURL$/, 'the URL other etcd members use to reach this one: http(s)://ADDRESS:2380'],
  [/\.etcd\.clientURL$/, 'the URL clients use: http(s)://ADDRESS:2379'],
  [/service(\.type)?$/, 'one of {type: systemd, unit}, {type: staticPod, manifest}, {type: commands, start, stop, status}'],
  [/^loadBalancer\.vip$/, 'the keepalived VIP that kubelets, kube-proxy and users reach the API on'],
];

function hintFor(path: string, code: string): string | undefined {
  if (code === 'unrecognized_keys') return 'remove the key or check its spelling (see examples/plan.yaml)';
  return HINTS.find(([re]) => re.test(path))?.[1];
}

export function zodIssues(error: z.ZodError): PlanIssue[] {
  const out: PlanIssue[] = [];
  for (const issue of error.issues) {
    const path = dotted(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const p = path ? `${path}.${key}` : key;
        out.push({ path: p, message: 'unknown field', hint: hintFor(p, issue.code) });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = 'required field is missing';
    out.push({ path, message, hint: hintFor(path, issue.code) });
  }
  return out;
}

/** Validate an already-parsed document. Returns the plan or every issue found. */
export function validatePlan(doc: unknown): { ok: true; plan: Plan } | { ok: false; issues: PlanIssue[] } {
  const parsed = planSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, issues: zodIssues(parsed.error) };
  const issues = semanticIssues(parsed.data);
  return issues.length ? { ok: false, issues } : { ok: true, plan: parsed.data };
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
