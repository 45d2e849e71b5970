/**
 * Mode and owner of files (and of their directories) on a host, so a file
 * copied or derived from an old master keeps the source's metadata on the new
 * one: never a default. Read-only.
 */
import type { SshTarget } from '../plan/hosts';
import type { HostOps, PushOptions } from './hostops';
import { shq } from './shell';

export interface FileMeta {
  /** permission bits, e.g. 0o600 */
  mode: number;
  /** "user:group" by name, or "uid:gid" when a name is unknown */
  owner: string;
}

export interface PathMeta {
  /** undefined when the file does not exist */
  file?: FileMeta;
  /** its directory */
  dir?: FileMeta;
}

const dirOf = (p: string) => (p.includes('/') ? p.replace(/\/[^/]*$/, '') || '/' : '.');

/** One `stat` per path and per directory; lines "<i> <F|D> <mode> <user> <group> <uid> <gid>". */
export function statScript(paths: readonly string[]): string {
  return paths
    .map((p, i) => [`stat -c '${i} F %a %U %G %u %g' -- ${shq(p)} 2>/dev/null`, `stat -c '${i} D %a %U %G %u %g' -- ${shq(dirOf(p))} 2>/dev/null`].join('; '))
    .concat('true')
    .join('; ');
}

export function parseStat(paths: readonly string[], out: string): Map<string, PathMeta> {
  const res = new Map<string, PathMeta>(paths.map((p) => [p, {}]));
  for (const line of out.split('\n')) {
    const [i, kind, mode, user, group, uid, gid] = line.trim().split(/\s+/);
    const p = paths[Number(i)];
    if (p === undefined || !mode || !/^[0-7]+$/.test(mode)) continue;
    const owner = user && group && user !== 'UNKNOWN' && group !== 'UNKNOWN' ? `${user}:${group}` : `${uid}:${gid}`;
    const meta = res.get(p) ?? {};
    if (kind === 'F') meta.file = { mode: parseInt(mode, 8), owner };
    if (kind === 'D') meta.dir = { mode: parseInt(mode, 8), owner };
    res.set(p, meta);
  }
  return res;
}

/** Mode and owner of each path and its directory on `target`. */
export async function statPaths(ops: HostOps, target: SshTarget, paths: readonly string[]): Promise<Map<string, PathMeta>> {
  if (!paths.length) return new Map();
  const r = await ops.run(target, statScript(paths), { timeoutMs: 30_000, allowFailure: true });
  return parseStat(paths, r.stdout);
}

/**
 * pushFile options that give the pushed file (and a directory it creates) the
 * source's mode and owner. `fallback` (explicit, e.g. 0o600 for a key cpmigrate
 * generates) is used only when the source has no such file.
 */
export function pushOptionsLike(src: PathMeta | undefined, fallback?: { mode: number; owner?: string }, extra: PushOptions = {}): PushOptions {
  const file = src?.file ?? fallback;
  const opts: PushOptions = { ...extra };
  if (file) {
    opts.mode = file.mode;
    if (file.owner) opts.owner = file.owner;
  }
  if (src?.dir) {
    opts.dirMode = src.dir.mode;
    opts.dirOwner = src.dir.owner;
  }
  return opts;
}

export function describeMeta(m: FileMeta | undefined): string {
  return m ? `${m.mode.toString(8).padStart(4, '0')} ${m.owner}` : 'absent';
}
