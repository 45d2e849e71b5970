/**
 * Finding what still names an old master (its address or its name, as whole
 * tokens) in text read from the cluster, for the pre-decommission inventory.
 * Pure. A reference has a stable id (`ref`) the operator acknowledges with
 * `cpmigrate approve ... decommission --ack REF`.
 */
import { addressPattern, namePattern, type HostIdentity } from './remap';

export interface OldMasterRef {
  /** stable id: "ConfigMap/kube-public/cluster-info:kubeconfig", "kubelet/worker-1", ... */
  ref: string;
  /** the old masters named (addresses and/or names) */
  names: string[];
  /** the line that names them (for Secrets only a kubeconfig's server line, never other content) */
  line: string;
  /** set when the migration itself removes this reference later (not to be acknowledged) */
  expected?: string;
}

/** Old masters named in `text` (each once, address before name), in plan order. */
export function oldMastersNamed(text: string, olds: readonly HostIdentity[]): string[] {
  const out: string[] = [];
  for (const o of olds) {
    if (addressPattern(o.address, '').test(text)) out.push(o.address);
    if (o.name && namePattern(o.name, '').test(text)) out.push(o.name);
  }
  return out;
}

/** The first line of `text` naming an old master, trimmed to 200 characters. */
export function firstLineNaming(text: string, olds: readonly HostIdentity[]): string {
  const line = text.split('\n').find((l) => oldMastersNamed(l, olds).length > 0) ?? '';
  const t = line.trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

/** A reference when `text` names an old master; `line` overrides the shown line (secrets). */
export function refIn(ref: string, text: string, olds: readonly HostIdentity[], opts: { line?: string; expected?: string } = {}): OldMasterRef | undefined {
  const names = oldMastersNamed(text, olds);
  if (!names.length) return undefined;
  return { ref, names, line: opts.line ?? firstLineNaming(text, olds), ...(opts.expected ? { expected: opts.expected } : {}) };
}

/** Does this text look like a kubeconfig (clusters with a server)? */
export function looksLikeKubeconfig(text: string): boolean {
  return /^\s*clusters:/m.test(text) && /^\s*server:\s*\S+/m.test(text);
}

/** References the operator must acknowledge before decommission: not expected, not acknowledged. */
export function unacknowledged(refs: readonly OldMasterRef[], acked: ReadonlySet<string>): OldMasterRef[] {
  return refs.filter((r) => !r.expected && !acked.has(r.ref));
}

export function describeRef(r: OldMasterRef): string {
  return `${r.ref}: names ${r.names.join(', ')}${r.line ? ` — ${r.line}` : ''}${r.expected ? ` (expected: ${r.expected})` : ''}`;
}
