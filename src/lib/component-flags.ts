/**
 * Flag parity between an old master's control-plane component and the new
 * master's: both command lines parsed into flags, every difference listed, and
 * each one classified as per-host (explained by the host's own address/name,
 * or a flag cpmigrate rewrites per host) or not (a setting that was lost,
 * added or changed on the way: a blocker). Pure.
 */
import { remapHost, type HostIdentity } from './remap';

/** Flag name → its values, in order (a repeated flag keeps every value). Bare boolean flags have the value "". */
export type FlagMap = ReadonlyMap<string, readonly string[]>;

/**
 * A command line as the process got it. `--flag=value` and bare `--flag` are
 * understood; `--flag value` too (the next word is taken when it does not
 * start with '-'). Words that are not flags (the binary) are dropped.
 */
export function parseArgv(argv: readonly string[], opts: { spaceValues?: boolean } = {}): Map<string, string[]> {
  const spaceValues = opts.spaceValues ?? true;
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z0-9][A-Za-z0-9-_.]*)(?:=(.*))?$/s.exec(argv[i] ?? '');
    if (!m) continue;
    let value = m[2];
    const next = argv[i + 1];
    if (spaceValues && value === undefined && next !== undefined && !next.startsWith('-')) {
      value = next;
      i++;
    }
    const name = m[1] ?? '';
    out.set(name, [...(out.get(name) ?? []), value ?? '']);
  }
  return out;
}

/**
 * The `--flag=value` / bare `--flag` tokens of a config file (env file with
 * ARGS="...", flag file, static-pod manifest list items), for when the running
 * process cannot be read. Quotes around a token are dropped.
 */
export function flagsOfConfigText(text: string): Map<string, string[]> {
  const words: string[] = [];
  for (const m of text.matchAll(/(?<=^|[\s"'[,])(--[A-Za-z0-9][A-Za-z0-9-_.]*(?:=[^\s"'\]]*)?)/gm)) words.push(m[1] ?? '');
  // only the `=` form in files: a bare word after a flag is not read as its value
  return parseArgv(words, { spaceValues: false });
}

export type DiffKind = 'changed' | 'missing on the new master' | 'only on the new master';

export interface FlagDifference {
  flag: string;
  kind: DiffKind;
  /** values as shown (secret-looking values masked) */
  old?: string;
  new?: string;
  /** per-host differences: why it is expected */
  why?: string;
}

export interface ParityResult {
  /** differences explained by the host (rewritten per host): listed, not blocking */
  perHost: FlagDifference[];
  /** every other difference: a blocker */
  blocking: FlagDifference[];
  /** flags compared (union of both sides) */
  compared: number;
}

export interface PerHostRule {
  /** flags whose value cpmigrate sets per host (e.g. --etcd-servers): any value on the new master is accepted */
  rewritten?: Readonly<Record<string, string>>;
  /** flags cpmigrate may add on the new master, with the value it adds */
  added?: Readonly<Record<string, string>>;
}

/** Values that must never be shown: flag names that look like they carry a secret inline (not a file path). */
export function isSecretFlag(flag: string): boolean {
  return /(password|secret|token)/i.test(flag) && !/(file|dir|path|ttl|audiences|lifetime|expiration|auth-file)$/i.test(flag);
}

const show = (flag: string, v: readonly string[] | undefined) =>
  v === undefined ? undefined : isSecretFlag(flag) ? '(secret, not shown)' : v.join(' | ') || '(set)';

/** Compares the old master's flags with the new master's, `from`/`to` being the two hosts. */
export function compareFlags(oldFlags: FlagMap, newFlags: FlagMap, from: HostIdentity, to: HostIdentity, rule: PerHostRule = {}): ParityResult {
  const perHost: FlagDifference[] = [];
  const blocking: FlagDifference[] = [];
  const names = [...new Set([...oldFlags.keys(), ...newFlags.keys()])].sort();
  for (const flag of names) {
    const o = oldFlags.get(flag);
    const n = newFlags.get(flag);
    if (o && n && o.join('\0') === n.join('\0')) continue;
    const kind: DiffKind = !n ? 'missing on the new master' : !o ? 'only on the new master' : 'changed';
    const d: FlagDifference = { flag, kind, ...(o ? { old: show(flag, o) } : {}), ...(n ? { new: show(flag, n) } : {}) };
    const why = perHostReason(flag, o, n, from, to, rule);
    if (why) perHost.push({ ...d, why });
    else blocking.push(d);
  }
  return { perHost, blocking, compared: names.length };
}

function perHostReason(
  flag: string,
  o: readonly string[] | undefined,
  n: readonly string[] | undefined,
  from: HostIdentity,
  to: HostIdentity,
  rule: PerHostRule,
): string | undefined {
  const rewritten = rule.rewritten?.[flag];
  if (rewritten !== undefined && o && n) return rewritten;
  const added = rule.added?.[flag];
  if (added !== undefined && n && n.join(',') === added) return o ? `set by the plan (${added})` : `added by the plan (${added})`;
  if (o && n && o.map((v) => remapHost(v, from, to)).join('\0') === n.join('\0')) return `${from.name}'s own address/name, as ${to.name}'s`;
  return undefined;
}

/** One line per difference, for summaries and error messages. */
export function describeDifference(d: FlagDifference): string {
  const vals = d.kind === 'changed' ? `${d.old} → ${d.new}` : d.kind === 'missing on the new master' ? `old: ${d.old}` : `new: ${d.new}`;
  return `--${d.flag} ${d.kind} (${vals})${d.why ? `: ${d.why}` : ''}`;
}
