/**
 * TEST ONLY: a HostOps where every "host" is this machine, seen through a
 * private mount namespace. All hosts see the same path (`mountPoint`), but each
 * sees its own directory there (`hostDir(name)` is bind-mounted over it for
 * that host's commands), so one plan path such as MOUNT/etc/etcd/etcd.conf.yml
 * is a different file on every host, exactly as on real machines.
 *
 * - run: `unshare --mount` + `mount --bind`, then `bash -c COMMAND`; processes a
 *   command starts in the background (setsid) keep that view.
 * - pushFile / readFile: only paths under `mountPoint`, mapped to the host's dir.
 *
 * Needs root (unshare --mount). Never used in production code.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandResult, PushResult } from '../../src/activities/types';
import { RemoteCommandError } from '../../src/errors';
import type { HostOps, PushOptions, RunOptions } from '../../src/lib/hostops';
import type { SshTarget } from '../../src/plan/hosts';

export interface LocalHostOpsOptions {
  /** the path every host sees as its own directory (exists, empty, on the real filesystem) */
  mountPoint: string;
  /** the real directory behind `mountPoint` for host `name` */
  hostDir: (name: string) => string;
  /** default command timeout (ms) */
  defaultTimeoutMs?: number;
}

export interface RecordedCommand {
  host: string;
  command: string;
  exitCode: number | null;
  ms: number;
}

const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export class LocalNamespaceHostOps implements HostOps {
  /** every command run, in order (for assertions) */
  readonly commands: RecordedCommand[] = [];

  constructor(private readonly opts: LocalHostOpsOptions) {}

  private realPath(target: SshTarget, p: string): string {
    const m = this.opts.mountPoint;
    if (p !== m && !p.startsWith(`${m}/`)) throw new Error(`LocalNamespaceHostOps: ${p} is outside the emulated host directory ${m}`);
    return path.join(this.opts.hostDir(target.name), p.slice(m.length));
  }

  async run(target: SshTarget, command: string, opts: RunOptions = {}): Promise<CommandResult> {
    const hostDir = this.opts.hostDir(target.name);
    await mkdir(hostDir, { recursive: true });
    const timeoutMs = opts.timeoutMs ?? this.opts.defaultTimeoutMs ?? 60_000;
    const t0 = Date.now();
    const result = await new Promise<CommandResult & { timedOut: boolean }>((resolve, reject) => {
      const child = spawn(
        'unshare',
        ['--mount', '--propagation', 'private', 'bash', '-c', 'mount --bind -- "$CPM_HOST_DIR" "$CPM_MOUNT" && exec bash -c "$CPM_COMMAND"'],
        {
          env: { ...process.env, CPM_HOST_DIR: hostDir, CPM_MOUNT: this.opts.mountPoint, CPM_COMMAND: command, CPM_HOST: target.name },
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true, // own process group: a timeout kills the command, not daemons it setsid'ed
        },
      );
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, timeoutMs);
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, exitCode: code ?? -1, timedOut });
      });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
    this.commands.push({ host: target.name, command, exitCode: result.exitCode, ms: Date.now() - t0 });
    if (result.timedOut) throw new RemoteCommandError(target.name, command, null, `timed out after ${timeoutMs}ms`);
    if (result.exitCode !== 0 && !opts.allowFailure)
      throw new RemoteCommandError(target.name, command, result.exitCode, result.stderr.trim().split('\n').slice(-5).join('\n'));
    return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
  }

  async pushFile(target: SshTarget, p: string, content: string | Buffer, opts: PushOptions = {}): Promise<PushResult> {
    const real = this.realPath(target, p);
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const sha256 = sha256hex(data);
    const before = await readFile(real).catch(() => undefined);
    if (before && before.equals(data)) return { path: p, changed: false, sha256 };
    await mkdir(path.dirname(real), { recursive: true });
    let backupPath: string | undefined;
    if (before && opts.backup) {
      backupPath = `${p}.cpmigrate-bak-${sha256hex(before).slice(0, 8)}`;
      await writeFile(this.realPath(target, backupPath), before);
    }
    const mode = opts.mode ?? (before ? (await stat(real)).mode & 0o7777 : undefined);
    if (mode === undefined) throw new Error(`refusing to create ${p} without a mode (cpmigrate gives new files their source's mode)`);
    const tmp = `${real}.tmp-${process.pid}`;
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode);
    await rename(tmp, real);
    return backupPath ? { path: p, changed: true, backupPath, sha256 } : { path: p, changed: true, sha256 };
  }

  async readFile(target: SshTarget, p: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.realPath(target, p));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    // nothing held open
  }
}
