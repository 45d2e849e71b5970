/** `kubectl label` / `kubectl taint` change syntax, and applying changes to a Node's labels and taints (pure). */
import { type V1Taint } from '@kubernetes/client-node';
import { PlanMismatchError } from '../../errors';

// labels

export interface LabelChange {
  key: string;
  /** null removes the label */
  value: string | null;
}

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label/taint key is invalid, or undefined when it is valid (Kubernetes qualified-name rules). */
export function qualifiedKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `prefix "${prefix}" must be a DNS subdomain (e.g. node-role.kubernetes.io)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) {
    return `name "${name}" must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_PART.test(value)) return `value "${value}" must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}

/** `kubectl label` syntax: "key=value" sets, "key-" removes. Throws PlanMismatchError on bad syntax. */
export function parseLabelChange(spec: string): LabelChange {
  const s = spec.trim();
  let change: LabelChange;
  if (s.endsWith('-') && !s.includes('=')) change = { key: s.slice(0, -1), value: null };
  else {
    const eq = s.indexOf('=');
    if (eq < 0) throw new PlanMismatchError(`invalid label change "${spec}": use key=value to set or key- to remove`);
    change = { key: s.slice(0, eq), value: s.slice(eq + 1) };
  }
  const problem = qualifiedKeyProblem(change.key) ?? (change.value !== null ? valueProblem(change.value) : undefined);
  if (problem) throw new PlanMismatchError(`invalid label change "${spec}": ${problem}`);
  return change;
}

/**
 * The merge-patch `metadata.labels` body that applies `changes` to `current`,
 * or undefined when nothing would change. Later changes win.
 */
export function labelPatch(current: Record<string, string> | undefined, changes: LabelChange[]): Record<string, string | null> | undefined {
  const want = new Map<string, string | null>();
  for (const c of changes) want.set(c.key, c.value);
  const patch: Record<string, string | null> = {};
  for (const [key, value] of want) {
    const has = current !== undefined && Object.prototype.hasOwnProperty.call(current, key);
    if (value === null ? has : !has || current?.[key] !== value) patch[key] = value;
  }
  return Object.keys(patch).length ? patch : undefined;
}

// taints

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export type TaintChange =
  | { op: 'set'; key: string; value: string; effect: TaintEffect }
  /** effect undefined: remove every taint with this key */
  | { op: 'remove'; key: string; effect?: TaintEffect };

function parseEffect(spec: string, effect: string): TaintEffect {
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    throw new PlanMismatchError(`invalid taint "${spec}": effect "${effect}" must be one of ${TAINT_EFFECTS.join(', ')}`);
  }
  return effect as TaintEffect;
}

/**
 * `kubectl taint` syntax: "key=value:Effect" or "key:Effect" adds/updates the
 * taint with that key and effect; "key-" removes every taint with the key;
 * "key:Effect-" (or "key=value:Effect-", value ignored) removes that one.
 */
export function parseTaintChange(spec: string): TaintChange {
  const s = spec.trim();
  const check = (key: string): void => {
    const problem = qualifiedKeyProblem(key);
    if (problem) throw new PlanMismatchError(`invalid taint "${spec}": key ${problem}`);
  };
  if (s.endsWith('-')) {
    const body = s.slice(0, -1);
    const colon = body.lastIndexOf(':');
    const keyPart = colon >= 0 ? body.slice(0, colon) : body;
    const key = keyPart.split('=')[0] as string;
    check(key);
    return colon >= 0 ? { op: 'remove', key, effect: parseEffect(spec, body.slice(colon + 1)) } : { op: 'remove', key };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new PlanMismatchError(`invalid taint "${spec}": use key=value:Effect to add, key- or key:Effect- to remove`);
  const effect = parseEffect(spec, s.slice(colon + 1));
  const kv = s.slice(0, colon);
  const eq = kv.indexOf('=');
  const key = eq >= 0 ? kv.slice(0, eq) : kv;
  const value = eq >= 0 ? kv.slice(eq + 1) : '';
  check(key);
  const vp = valueProblem(value);
  if (vp) throw new PlanMismatchError(`invalid taint "${spec}": ${vp}`);
  return { op: 'set', key, value, effect };
}

/** Apply taint changes in order; other taints keep their order and fields. */
export function applyTaintChanges(current: readonly V1Taint[] | undefined, changes: readonly TaintChange[]): V1Taint[] {
  let taints: V1Taint[] = (current ?? []).map((t) => ({ ...t }));
  for (const c of changes) {
    if (c.op === 'remove') {
      taints = taints.filter((t) => !(t.key === c.key && (c.effect === undefined || t.effect === c.effect)));
      continue;
    }
    const i = taints.findIndex((t) => t.key === c.key && t.effect === c.effect);
    const next: V1Taint = { key: c.key, effect: c.effect, ...(c.value !== '' ? { value: c.value } : {}) };
    if (i >= 0) {
      const old = taints[i] as V1Taint;
      if ((old.value ?? '') !== c.value) taints[i] = next;
    } else taints.push(next);
  }
  return taints;
}

export function sameTaints(a: readonly V1Taint[] | undefined, b: readonly V1Taint[] | undefined): boolean {
  const norm = (ts: readonly V1Taint[] | undefined): string =>
    JSON.stringify((ts ?? []).map((t) => [t.key, t.value ?? '', t.effect, t.timeAdded ? String(t.timeAdded) : '']));
  return norm(a) === norm(b);
}

export function formatTaint(t: V1Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}
