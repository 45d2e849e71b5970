/**
 * Files on a host through its shell: read one (missing = undefined), and push
 * one atomically — nothing is written when the content and metadata already
 * match; else a temp file beside the target, checked by sha256, given the
 * replaced file's (or the requested) mode and owner, optionally a backup of
 * the old one, then renamed over. Contents travel on stdin, never in a
 * command line or a log.
 */
import { RemoteCommandError } from '../../errors';
import type { SshTarget } from '../../plan/hosts';
import { sha256hex } from '../digest';
import type { CommandResult, PushOptions, PushResult } from '../hostops';
import { shq } from '../shell';
import { stderrTail, type ExecOptions, type ExecResult } from './exec';

type Run = (target: SshTarget, command: string, opts: ExecOptions) => Promise<CommandResult>;
type Exec = (target: SshTarget, command: string, opts: ExecOptions) => Promise<ExecResult>;

const MISSING = '__cpmigrate_enoent__';

/** The command that prints a regular file, or exits 66 with MISSING when there is none. */
export function readFileCommand(path: string): string {
  return `p=${shq(path)}; if [ -f "$p" ]; then exec cat -- "$p"; elif [ -e "$p" ]; then echo "not a regular file: $p" >&2; exit 2; else echo ${MISSING} >&2; exit 66; fi`;
}

export async function readRemoteFile(exec: Exec, target: SshTarget, path: string): Promise<Buffer | undefined> {
  const r = await exec(target, readFileCommand(path), { label: `read ${path}` });
  if (r.exitCode === 66 && r.stderr.toString().includes(MISSING)) return undefined;
  if (r.exitCode !== 0) throw new RemoteCommandError(target.name, `read ${path}`, r.exitCode, stderrTail(r.stderr.toString()));
  return r.stdout;
}

/** Prints sha256 and `mode user group uid gid` of a regular file, NOTFILE or MISSING. */
function stateCommand(path: string): string {
  return `p=${shq(path)}; if [ -f "$p" ]; then sha256sum < "$p" | cut -c1-64 && stat -c '%a %U %G %u %g' -- "$p"; elif [ -e "$p" ]; then echo NOTFILE; else echo MISSING; fi`;
}

/** The script that writes stdin (base64) to `path` atomically; prints `backup=PATH` when it kept one. */
export function pushScript(path: string, sha: string, opts: PushOptions): string {
  const p = shq(path);
  const mode = opts.mode !== undefined ? (opts.mode & 0o7777).toString(8) : undefined;
  const dir = path.includes('/') ? path.replace(/\/[^/]*$/, '') || '/' : '.';
  const base = path.split('/').pop() ?? 'file';
  return [
    'set -eu',
    `p=${p}`,
    opts.dirMode !== undefined || opts.dirOwner
      ? `if [ ! -d ${shq(dir)} ]; then mkdir -p -- ${shq(dir)}${opts.dirMode !== undefined ? ` && chmod ${(opts.dirMode & 0o7777).toString(8)} -- ${shq(dir)}` : ''}${opts.dirOwner ? ` && chown ${shq(opts.dirOwner)} -- ${shq(dir)}` : ''}; fi`
      : `mkdir -p -- ${shq(dir)}`,
    `t=$(mktemp -- ${shq(`${dir}/.${base}.cpmigrate-tmp.XXXXXX`)})`,
    `trap 'rm -f -- "$t"' EXIT`,
    'base64 -d > "$t"',
    `got=$(sha256sum < "$t" | cut -c1-64)`,
    `[ "$got" = ${sha} ] || { echo "upload corrupted: sha256 $got, expected ${sha}" >&2; exit 1; }`,
    // no mode given: keep the replaced file's; a new file without a mode is refused (no default mode, ever)
    mode !== undefined
      ? `chmod ${mode} -- "$t"`
      : `if [ -f "$p" ]; then chmod --reference="$p" -- "$t"; else echo "refusing to create $p without a mode (cpmigrate gives new files their source's mode)" >&2; exit 3; fi`,
    opts.owner ? `chown ${shq(opts.owner)} -- "$t"` : `if [ -f "$p" ]; then chown --reference="$p" -- "$t" 2>/dev/null || true; fi`,
    opts.backup ? `if [ -f "$p" ]; then old=$(sha256sum < "$p" | cut -c1-8); b="$p.cpmigrate-bak-$old"; cp -p -- "$p" "$b"; echo "backup=$b"; fi` : ':',
    'sync -- "$t" 2>/dev/null || true',
    'mv -f -- "$t" "$p"',
    'trap - EXIT',
  ].join('\n');
}

export async function pushRemoteFile(run: Run, target: SshTarget, path: string, content: string | Buffer, opts: PushOptions = {}): Promise<PushResult> {
  const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
  const sha = sha256hex(buf);
  const p = shq(path);
  const label = `push ${path}`;
  const mode = opts.mode !== undefined ? (opts.mode & 0o7777).toString(8) : undefined;

  // 1. what is there now (sha256 + mode/owner), computed on the host
  const state = await run(target, stateCommand(path), { label });
  const [first = '', stat = ''] = state.stdout.trim().split('\n');
  if (first === 'NOTFILE') throw new RemoteCommandError(target.name, label, null, `${path} exists and is not a regular file`);
  if (first === sha) {
    const [m, u, g, uid, gid] = stat.trim().split(' ');
    const modeOk = mode === undefined || parseInt(m ?? '', 8) === opts.mode;
    const ownerOk = !opts.owner || [u, `${u}:${g}`, uid, `${uid}:${gid}`].includes(opts.owner);
    if (modeOk && ownerOk) return { path, changed: false, sha256: sha };
    // content is right, only metadata drifted: fix it in place
    const fix = [mode !== undefined && !modeOk ? `chmod ${mode} -- ${p}` : '', opts.owner && !ownerOk ? `chown ${shq(opts.owner)} -- ${p}` : '']
      .filter(Boolean)
      .join(' && ');
    await run(target, fix, { label });
    return { path, changed: true, sha256: sha };
  }

  // 2. write a temp file in the same directory, check it, then rename over
  const w = await run(target, pushScript(path, sha, opts), { input: buf.toString('base64'), label });
  const backupPath = /^backup=(.*)$/m.exec(w.stdout)?.[1];
  return { path, changed: true, sha256: sha, ...(backupPath ? { backupPath } : {}) };
}
