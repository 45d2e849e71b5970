/**
 * A plan problem as the operator reads it: the field's path
 * (`newMasters[1].address`), what is wrong, and a hint. Pure (no I/O): the
 * workflow reports its plan problems the same way `cpmigrate plan validate` does.
 */
import type { z } from 'zod';

export interface PlanIssue {
  /** dotted path of the field, e.g. newMasters[1].address; "" for the whole file */
  path: string;
  message: string;
  hint?: string;
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
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
