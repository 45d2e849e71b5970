/**
 * HostOps over SSH: one connection per target, reused by every call until it
 * has been idle for `idleMs` (or `close()`); at most
 * `maxChannelsPerConnection` commands run at once on it (OpenSSH's
 * MaxSessions defaults to 10). A command whose channel could not open on a
 * connection that just died is tried once more on a fresh one.
 */
import { RemoteCommandError } from '../../errors';
import type { SshTarget } from '../../plan/hosts';
import type { CommandResult, HostOps, PushOptions, PushResult } from '../hostops';
import { openConnection, type Conn, type ConnHooks } from './connect';
import { ChannelOpenError, describeCommand, execOn, signalExitCode, stderrTail, type ExecOptions, type ExecResult } from './exec';
import { pushRemoteFile, readRemoteFile } from './push';

export interface SshHostOpsOptions {
  /** close a connection after this long without commands (default 30 s) */
  idleMs?: number;
  /** concurrent channels per connection (default 8) */
  maxChannelsPerConnection?: number;
}

export interface SshHostOpsStats {
  /** SSH connections opened (handshake + auth completed) */
  connections: number;
  /** commands executed (channels opened) */
  commands: number;
}

export class SshHostOps implements HostOps {
  /** connections being opened, by key */
  private readonly pending = new Map<string, Promise<Conn>>();
  /** open connections, by key */
  private readonly ready = new Map<string, Conn>();
  private readonly live = new Set<Conn>();
  private nextId = 1;
  private readonly idleMs: number;
  private readonly maxChannels: number;
  readonly stats: SshHostOpsStats = { connections: 0, commands: 0 };
  private readonly hooks: ConnHooks = {
    nextId: () => this.nextId++,
    onReady: (c) => {
      this.stats.connections++;
      this.live.add(c);
    },
    onClose: (c) => {
      this.live.delete(c);
      this.forget(c);
    },
  };

  constructor(opts: SshHostOpsOptions = {}) {
    this.idleMs = opts.idleMs ?? 30_000;
    this.maxChannels = opts.maxChannelsPerConnection ?? 8;
  }

  private static key(t: SshTarget): string {
    return [t.name, t.user, t.address, t.port, t.privateKeyPath, t.hostKeyFingerprint ?? '', t.knownHostsPath ?? ''].join('|');
  }

  async run(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<CommandResult> {
    const r = await this.exec(target, command, opts);
    const result: CommandResult = {
      stdout: r.stdout.toString('utf8'),
      stderr: r.stderr.toString('utf8'),
      exitCode: r.exitCode ?? signalExitCode(r.signal),
    };
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new RemoteCommandError(target.name, describeCommand(opts.label ?? command), r.exitCode, stderrTail(result.stderr));
    }
    return result;
  }

  readFile(target: SshTarget, path: string): Promise<Buffer | undefined> {
    return readRemoteFile((t, c, o) => this.exec(t, c, o), target, path);
  }

  pushFile(target: SshTarget, path: string, content: string | Buffer, opts: PushOptions = {}): Promise<PushResult> {
    return pushRemoteFile((t, c, o) => this.run(t, c, o), target, path, content, opts);
  }

  /** End every connection. The instance stays usable: the next call reconnects. */
  async close(): Promise<void> {
    const conns = [...this.live];
    this.ready.clear();
    for (const c of conns) {
      clearTimeout(c.idleTimer);
      c.client.end();
    }
    await Promise.race([Promise.all(conns.map((c) => c.closedP)), new Promise((r) => setTimeout(r, 3000).unref())]);
    for (const c of conns) if (!c.closed) c.client.destroy();
  }

  /** Open connections right now (for tests and status). */
  get openConnections(): number {
    return this.live.size;
  }

  // -------------------------------------------------------------------------

  private async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.conn(target);
      await this.acquire(conn);
      try {
        return await execOn(conn, command, opts, () => this.stats.commands++);
      } catch (e) {
        // the connection died under us before the command started: once more on a fresh one
        if (attempt === 0 && e instanceof ChannelOpenError && conn.closed) continue;
        throw e;
      } finally {
        this.release(conn);
      }
    }
  }

  private acquire(conn: Conn): Promise<void> {
    clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    if (conn.active < this.maxChannels) {
      conn.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => conn.waiters.push(() => resolve()));
  }

  private release(conn: Conn): void {
    const next = conn.waiters.shift();
    if (next) {
      next(); // hands its slot over
      return;
    }
    conn.active--;
    if (conn.active === 0 && !conn.closed) {
      conn.idleTimer = setTimeout(() => {
        if (conn.active === 0) {
          this.forget(conn);
          conn.client.end();
        }
      }, this.idleMs);
      conn.idleTimer.unref();
    }
  }

  private forget(conn: Conn): void {
    const k = SshHostOps.key(conn.target);
    if (this.ready.get(k) === conn) this.ready.delete(k);
  }

  private async conn(target: SshTarget): Promise<Conn> {
    const k = SshHostOps.key(target);
    const open = this.ready.get(k);
    if (open && !open.closed) return open;
    let p = this.pending.get(k);
    if (!p) {
      p = openConnection(target, this.hooks).then((c) => {
        if (!c.closed) this.ready.set(k, c);
        return c;
      });
      this.pending.set(k, p);
      const mine = p;
      const done = () => {
        if (this.pending.get(k) === mine) this.pending.delete(k);
      };
      p.then(done, done);
    }
    return p;
  }
}

let shared: SshHostOps | undefined;

/** The worker-wide SSH HostOps (connections are shared and closed when idle). */
export function sshHostOps(): SshHostOps {
  shared ??= new SshHostOps();
  return shared;
}
