/**
 * Named failpoints (in the spirit of etcd's gofail): `failpoint('etcd.join.after-member-add')`
 * marks a line between two side effects. It does nothing unless the worker
 * runs with `CPM_FAILPOINTS=<name>[,<name>…]` (globs: `etcd.join.*`, `*`);
 * then the worker process SIGKILLs itself the first time it reaches an armed
 * point. Before dying it records the name in `$CPM_FAILPOINT_DIR/fired`
 * (default: `$CPM_STATE_DIR`, else the working directory), so each name fires
 * once and a restarted worker with the same arming goes on to the next one.
 *
 * Every name must be in FAILPOINTS (src/lib/failpoint-catalogue.ts) with one
 * line on the cluster's state there; an unknown name throws, so a typo cannot
 * silently disable a crash test.
 */
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FAILPOINTS, type FailpointName } from './failpoint-catalogue';

export { FAILPOINTS, type FailpointName } from './failpoint-catalogue';

interface Arming {
  patterns: RegExp[];
  firedFile: string;
}

let arming: Arming | null | undefined;

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/** Parsed once per process from the environment. */
function currentArming(): Arming | null {
  if (arming !== undefined) return arming;
  const spec = (process.env.CPM_FAILPOINTS ?? '').trim();
  if (!spec) return (arming = null);
  const dir = process.env.CPM_FAILPOINT_DIR ?? process.env.CPM_STATE_DIR ?? process.cwd();
  arming = {
    patterns: spec
      .split(',')
      .map((s) => globToRegExp(s.trim()))
      .filter(Boolean),
    firedFile: path.join(dir, 'fired'),
  };
  return arming;
}

/** The names recorded as fired in `firedFile` (one per line). */
export function firedFailpoints(firedFile: string): Set<string> {
  try {
    return new Set(readFileSync(firedFile, 'utf8').split('\n').filter(Boolean));
  } catch {
    return new Set();
  }
}

/** Names in the catalogue that a CPM_FAILPOINTS spec arms, in catalogue order. */
export function armedBy(spec: string): FailpointName[] {
  const patterns = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(globToRegExp);
  return (Object.keys(FAILPOINTS) as FailpointName[]).filter((n) => patterns.some((p) => p.test(n)));
}

/**
 * Crash here (SIGKILL, no cleanup) when armed and not fired yet; otherwise nothing.
 * `instance` (a host name) qualifies the point: an arming without "@" (`stop.keepalived.after-stop`)
 * fires once, at the first instance reached; one with "@" (`stop.keepalived.after-stop@*`) once per instance.
 */
export function failpoint(name: FailpointName, instance?: string): void {
  if (!(name in FAILPOINTS)) throw new Error(`internal: failpoint "${name}" is not in the catalogue`);
  const a = currentArming();
  if (!a) return;
  const qualified = instance ? `${name}@${instance}` : name;
  const key = a.patterns.some((p) => p.source.includes('@') && p.test(qualified))
    ? qualified
    : a.patterns.some((p) => !p.source.includes('@') && p.test(name))
      ? name
      : undefined;
  if (!key) return;
  if (firedFailpoints(a.firedFile).has(key)) return;
  const fd = openSync(a.firedFile, 'a');
  appendFileSync(fd, `${key}\n`);
  fsyncSync(fd);
  closeSync(fd);
  process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'failpoint fired: SIGKILL', failpoint: qualified, pid: process.pid })}\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Tests only: forget the parsed arming so a changed environment is read again. */
export function resetFailpointArming(): void {
  arming = undefined;
}
