/**
 * HostOps over SSH (ssh2): run commands, push and read files on the masters.
 *
 * - One connection per target, reused by every call until it has been idle
 *   for `idleMs` (or `close()`); at most `maxChannelsPerConnection` commands
 *   run at once on it (OpenSSH's MaxSessions defaults to 10).
 * - The host key is always verified: a pinned `hostKeyFingerprint`, else a
 *   known_hosts entry (plain, hashed `|1|`, `[host]:port`); nothing known means
 *   refuse. Agent forwarding is never requested.
 * - The private key is read from `privateKeyPath` when connecting, never kept
 *   in the plan. File contents are never logged: they travel on stdin.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { Client, utils, type ClientChannel, type ConnectConfig } from 'ssh2';
import { beat, cancelled } from '../activities/heartbeat';
import type { CommandResult, PushResult } from '../activities/types';
import { HostKeyMismatchError, HostUnreachableError, RemoteCommandError, SshAuthError } from '../errors';
import type { SshTarget } from '../plan/hosts';
import type { HostOps, PushOptions, RunOptions } from './hostops';
import { expandHome } from './paths';
import { checkSshTarget, enforce } from './policy';

/** Default bound for a command when the caller gives none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_BYTES = 2048;
const HEARTBEAT_EVERY_MS = 5_000;
const PGID_MARK = '__cpmigrate_pgid=';

/** Shell-quote one word. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function sha256hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** OpenSSH fingerprint of a host key blob: SHA256:<base64 without padding>. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob, e.g. ssh-ed25519. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || blob.length < 4 + len) return 'unknown';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** Last lines of stderr for error messages (at most 20 lines / 2 KB). */
export function stderrTail(stderr: string): string {
  const lines = stderr.replace(/\s+$/, '').split('\n');
  let tail = lines.slice(-STDERR_TAIL_LINES).join('\n');
  if (tail.length > STDERR_TAIL_BYTES) tail = `…${tail.slice(-STDERR_TAIL_BYTES)}`;
  return tail;
}

export { expandHome } from './paths';

// ---------------------------------------------------------------------------
// known_hosts

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  hostPatterns: string;
  keyType: string;
  key: Buffer;
  line: number;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0] === '@revoked' || f[0] === '@cert-authority') marker = f.shift() as KnownHostEntry['marker'];
    const [hostPatterns, keyType, b64] = f;
    if (!hostPatterns || !keyType || !b64) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0) return;
    out.push({ marker, hostPatterns, keyType, key, line: i + 1 });
  });
  return out;
}

/** The name OpenSSH looks up: `addr` for port 22, `[addr]:port` otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(s);
}

/** Does a known_hosts host field (plain patterns or hashed |1|salt|hash) match `name`? */
export function knownHostsPatternMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    const got = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Server host key algorithms that produce keys of a given known_hosts key type. */
const HOST_KEY_ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
/** Key families tried in turn when a pinned fingerprint does not match the first key offered. */
const KEY_FAMILIES: string[][] = [
  ['ssh-ed25519'],
  ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  ['ssh-rsa'],
];

type HostKeyPolicy =
  | { kind: 'pin'; fingerprint: string }
  | { kind: 'known'; file: string; keys: KnownHostEntry[]; revoked: KnownHostEntry[] }
  | { kind: 'unknown'; file?: string; revoked: KnownHostEntry[] };

/**
 * Thrown when no fingerprint is pinned and known_hosts has no entry for the
 * host. Same type name as HostKeyMismatchError, so it is non-retryable too.
 */
export class UnknownHostKeyError extends HostKeyMismatchError {
  constructor(host: string, got: string, message: string) {
    super(host, '(nothing pinned or known)', got);
    this.message = message;
  }
}

async function hostKeyPolicy(t: SshTarget): Promise<HostKeyPolicy> {
  if (t.hostKeyFingerprint) return { kind: 'pin', fingerprint: t.hostKeyFingerprint.replace(/=+$/, '') };
  if (!t.knownHostsPath) return { kind: 'unknown', revoked: [] };
  const file = expandHome(t.knownHostsPath);
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read known_hosts ${file}: ${(e as Error).message}`);
  }
  const name = knownHostsName(t.address, t.port);
  const entries = parseKnownHosts(text).filter((e) => knownHostsPatternMatches(e.hostPatterns, name));
  const revoked = entries.filter((e) => e.marker === '@revoked');
  const keys = entries.filter((e) => !e.marker && HOST_KEY_ALGOS[e.keyType]);
  return keys.length ? { kind: 'known', file, keys, revoked } : { kind: 'unknown', file, revoked };
}

// ---------------------------------------------------------------------------
// connections

interface Conn {
  id: number;
  target: SshTarget;
  client: Client;
  active: number;
  waiters: Array<() => void>;
  idleTimer?: NodeJS.Timeout;
  closed: boolean;
  closedP: Promise<void>;
}

interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  signal?: string;
}

interface ExecOptions extends RunOptions {
  /** what error messages call the command (default: the command itself) */
  label?: string;
}

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

function signalExitCode(signal: string | undefined): number {
  const n = signal ? (os.constants.signals as Record<string, number>)[`SIG${signal}`] : undefined;
  return n ? 128 + n : 255;
}

function describeCommand(cmd: string): string {
  const one = cmd.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
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

  async readFile(target: SshTarget, path: string): Promise<Buffer | undefined> {
    const missing = '__cpmigrate_enoent__';
    const r = await this.exec(
      target,
      `p=${shq(path)}; if [ -f "$p" ]; then exec cat -- "$p"; elif [ -e "$p" ]; then echo "not a regular file: $p" >&2; exit 2; else echo ${missing} >&2; exit 66; fi`,
      { label: `read ${path}` },
    );
    if (r.exitCode === 66 && r.stderr.toString().includes(missing)) return undefined;
    if (r.exitCode !== 0) throw new RemoteCommandError(target.name, `read ${path}`, r.exitCode, stderrTail(r.stderr.toString()));
    return r.stdout;
  }

  async pushFile(target: SshTarget, path: string, content: string | Buffer, opts: PushOptions = {}): Promise<PushResult> {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const sha = sha256hex(buf);
    const p = shq(path);
    const label = `push ${path}`;
    const mode = opts.mode !== undefined ? (opts.mode & 0o7777).toString(8) : undefined;

    // 1. what is there now (sha256 + mode/owner), computed on the host
    const state = await this.run(
      target,
      `p=${p}; if [ -f "$p" ]; then sha256sum < "$p" | cut -c1-64 && stat -c '%a %U %G %u %g' -- "$p"; elif [ -e "$p" ]; then echo NOTFILE; else echo MISSING; fi`,
      { label },
    );
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
      await this.run(target, fix, { label });
      return { path, changed: true, sha256: sha };
    }

    // 2. write a temp file in the same directory, check it, then rename over
    const dir = path.includes('/') ? path.replace(/\/[^/]*$/, '') || '/' : '.';
    const base = path.split('/').pop() ?? 'file';
    const script = [
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
      mode !== undefined ? `chmod ${mode} -- "$t"` : `if [ -f "$p" ]; then chmod --reference="$p" -- "$t"; else echo "refusing to create $p without a mode (cpmigrate gives new files their source's mode)" >&2; exit 3; fi`,
      opts.owner ? `chown ${shq(opts.owner)} -- "$t"` : `if [ -f "$p" ]; then chown --reference="$p" -- "$t" 2>/dev/null || true; fi`,
      opts.backup
        ? `if [ -f "$p" ]; then old=$(sha256sum < "$p" | cut -c1-8); b="$p.cpmigrate-bak-$old"; cp -p -- "$p" "$b"; echo "backup=$b"; fi`
        : ':',
      'sync -- "$t" 2>/dev/null || true',
      'mv -f -- "$t" "$p"',
      'trap - EXIT',
    ].join('\n');
    const w = await this.run(target, script, { input: buf.toString('base64'), label });
    const backupPath = /^backup=(.*)$/m.exec(w.stdout)?.[1];
    return { path, changed: true, sha256: sha, ...(backupPath ? { backupPath } : {}) };
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
        return await this.execOn(conn, command, opts);
      } catch (e) {
        // the connection died under us before the command started: once more on a fresh one
        if (attempt === 0 && e instanceof ChannelOpenError && conn.closed) continue;
        throw e;
      } finally {
        this.release(conn);
      }
    }
  }

  private execOn(conn: Conn, command: string, opts: ExecOptions): Promise<ExecResult> {
    const t = conn.target;
    const label = describeCommand(opts.label ?? command);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let stream: ClientChannel | undefined;
      const timers: NodeJS.Timeout[] = [];
      const finish = (err: Error | undefined, r?: ExecResult) => {
        if (settled) return;
        settled = true;
        timers.forEach((x) => clearTimeout(x));
        if (err) reject(err);
        else resolve(r as ExecResult);
      };
      let pgid: number | undefined;
      const kill = () => {
        // OpenSSH refuses "signal" requests for root sessions (no privilege
        // separation after a root login), so kill the command's process group
        // (the login shell leads it: sshd runs it with setsid) from a second
        // channel; the signal request still helps for non-root users.
        if (pgid) {
          try {
            conn.client.exec(`kill -KILL -- -${pgid} 2>/dev/null; kill -KILL ${pgid} 2>/dev/null; true`, (err, kch) => {
              if (err) return;
              kch.resume();
              kch.stderr.resume();
              kch.end();
            });
          } catch {
            // connection gone: nothing left to kill from here
          }
        }
        try {
          // Channel.signal() is a no-op once our stdin is ended, so go through the protocol
          const out = (stream as unknown as { outgoing?: { id?: number; state?: string } } | undefined)?.outgoing;
          const proto = (conn.client as unknown as { _protocol?: { signal(id: number, sig: string): void } })._protocol;
          if (out?.id !== undefined && (out.state === 'open' || out.state === 'eof') && proto) proto.signal(out.id, 'KILL');
        } catch {
          // channel already gone
        }
        try {
          stream?.close();
        } catch {
          // ignore
        }
      };
      try {
        // first line of stderr: the shell's pid (= its process group), stripped below
        conn.client.exec(`echo ${PGID_MARK}$$ >&2\n${command}`, (err, ch) => {
          if (err) return finish(new ChannelOpenError(`${t.name} (${t.address}:${t.port}): cannot start \`${label}\`: ${err.message}`));
          if (settled) {
            ch.close();
            return;
          }
          stream = ch;
          this.stats.commands++;
          const out: Buffer[] = [];
          const errb: Buffer[] = [];
          let exitCode: number | null = null;
          let signal: string | undefined;
          ch.on('data', (d: Buffer) => out.push(d));
          // stderr is held back until the pgid line is seen (normally the very first
          // line; a chatty ~/.bashrc may print before it), then that line is removed
          let head: Buffer | undefined = Buffer.alloc(0);
          const flushHead = () => {
            if (!head) return;
            const text = head.toString('latin1');
            const at = text.startsWith(PGID_MARK) ? 0 : text.indexOf(`\n${PGID_MARK}`) + 1;
            const eol = at > 0 || text.startsWith(PGID_MARK) ? text.indexOf('\n', at) : -1;
            if (eol >= 0) {
              pgid = Number(text.slice(at + PGID_MARK.length, eol)) || undefined;
              errb.push(Buffer.concat([head.subarray(0, at), head.subarray(eol + 1)]));
            } else {
              errb.push(head);
            }
            head = undefined;
          };
          ch.stderr.on('data', (d: Buffer) => {
            if (!head) return void errb.push(d);
            head = Buffer.concat([head, d]);
            if (/(^|\n)__cpmigrate_pgid=\d*\n/.test(head.toString('latin1')) || head.length > 16_384) flushHead();
          });
          ch.on('exit', (...args: unknown[]) => {
            exitCode = typeof args[0] === 'number' ? args[0] : null;
            signal = typeof args[1] === 'string' ? args[1] : undefined;
          });
          ch.on('close', () => {
            flushHead();
            if (exitCode === null && signal === undefined && conn.closed) {
              return finish(new Error(`${t.name} (${t.address}:${t.port}): connection lost while running \`${label}\``));
            }
            finish(undefined, { stdout: Buffer.concat(out), stderr: Buffer.concat(errb), exitCode, signal });
          });
          ch.on('error', (e: Error) => finish(new Error(`${t.name}: channel error running \`${label}\`: ${e.message}`)));
          if (opts.input !== undefined) ch.end(opts.input);
          else ch.end();
        });
      } catch (e) {
        finish(new ChannelOpenError(`${t.name} (${t.address}:${t.port}): cannot start \`${label}\`: ${(e as Error).message}`));
        return;
      }
      timers.push(
        setTimeout(() => {
          kill();
          finish(new Error(`${t.name} (${t.address}:${t.port}): \`${label}\` timed out after ${timeoutMs} ms (channel killed)`));
        }, timeoutMs),
      );
      const started = Date.now();
      const hb = () => {
        if (settled) return;
        beat({ host: t.name, waitingMs: Date.now() - started });
        timers.push(setTimeout(hb, HEARTBEAT_EVERY_MS));
      };
      timers.push(setTimeout(hb, HEARTBEAT_EVERY_MS));
      cancelled().catch((e: unknown) => {
        if (settled) return;
        kill();
        finish(e instanceof Error ? e : new Error(`${t.name}: \`${label}\` cancelled`));
      });
    });
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
      p = this.connect(target).then((c) => {
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

  private async connect(target: SshTarget): Promise<Conn> {
    enforce((p) => checkSshTarget(p, target)); // the worker policy, before any key is read or packet sent
    const keyPath = expandHome(target.privateKeyPath);
    let keyBuf: Buffer;
    try {
      keyBuf = await readFile(keyPath);
    } catch (e) {
      throw new SshAuthError(target.name, `cannot read private key ${keyPath} for ${target.name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const parsed = utils.parseKey(keyBuf);
    if (parsed instanceof Error) {
      throw new SshAuthError(target.name, `cannot use private key ${keyPath} for ${target.name}: ${parsed.message} (passphrase-protected keys are not supported)`);
    }
    const policy = await hostKeyPolicy(target);

    if (policy.kind === 'known') {
      const algos = [...new Set(policy.keys.flatMap((e) => HOST_KEY_ALGOS[e.keyType] ?? []))];
      return this.handshake(target, keyBuf, keyPath, policy, algos);
    }
    if (policy.kind === 'unknown') return this.handshake(target, keyBuf, keyPath, policy, undefined);

    // pinned: the server may offer another key type first; try each family once
    const seen: Array<{ type: string; fp: string }> = [];
    let lastErr: unknown;
    for (const attempt of [undefined, ...KEY_FAMILIES]) {
      if (attempt && seen.some((s) => attempt.includes(s.type))) continue;
      const algos = attempt?.flatMap((ty) => HOST_KEY_ALGOS[ty] ?? []);
      try {
        return await this.handshake(target, keyBuf, keyPath, policy, algos);
      } catch (e) {
        lastErr = e;
        if (e instanceof PinMismatch) {
          seen.push({ type: e.keyType, fp: e.got });
          continue;
        }
        if (attempt && e instanceof NoCommonHostKey) continue;
        throw e;
      }
    }
    if (seen.length) {
      throw new HostKeyMismatchError(`${target.name} (${target.address}:${target.port})`, policy.fingerprint, seen.map((s) => `${s.fp} (${s.type})`).join(', '));
    }
    throw lastErr;
  }

  private handshake(target: SshTarget, privateKey: Buffer, keyPath: string, policy: HostKeyPolicy, serverHostKey: string[] | undefined): Promise<Conn> {
    const who = `${target.name} (${target.address}:${target.port})`;
    return new Promise<Conn>((resolve, reject) => {
      const client = new Client();
      let rejection: Error | undefined;
      let ready = false;
      const hostVerifier = (key: Buffer): boolean => {
        const got = sshFingerprint(key);
        const type = keyTypeOfBlob(key);
        if (policy.kind !== 'pin' && policy.revoked.some((e) => e.key.equals(key))) {
          rejection = new HostKeyMismatchError(who, 'a key not marked @revoked', `${got} (${type}), marked @revoked in ${policy.file ?? 'known_hosts'}`);
          return false;
        }
        if (policy.kind === 'pin') {
          if (got === policy.fingerprint) return true;
          rejection = new PinMismatch(type, got);
          return false;
        }
        if (policy.kind === 'known') {
          if (policy.keys.some((e) => e.key.equals(key))) return true;
          const expected = policy.keys.map((e) => `${sshFingerprint(e.key)} (${e.keyType}, ${policy.file}:${e.line})`).join(', ');
          rejection = new HostKeyMismatchError(who, expected, `${got} (${type})`);
          return false;
        }
        const where = policy.file ? `${policy.file} has no entry for ${knownHostsName(target.address, target.port)}` : 'no knownHostsPath is set';
        rejection = new UnknownHostKeyError(
          who,
          got,
          `unknown host key for ${who}: the server offered ${got} (${type}), but no hostKeyFingerprint is pinned and ${where}; refusing to connect. ` +
            `Check the key on the host itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pin it in the plan ` +
            `(ssh.hostKeyFingerprint: ${got}), or add it to known_hosts (ssh-keyscan -p ${target.port} ${target.address} >> ${policy.file ?? '~/.ssh/known_hosts'}).`,
        );
        return false;
      };
      const cfg: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey,
        readyTimeout: target.connectTimeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        agentForward: false,
        tryKeyboard: false,
        hostVerifier,
        ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> } } : {}),
      };
      let resolveClosed: () => void = () => undefined;
      const conn: Conn = {
        id: this.nextId++,
        target,
        client,
        active: 0,
        waiters: [],
        closed: false,
        closedP: new Promise<void>((r) => (resolveClosed = r)),
      };
      client.on('ready', () => {
        ready = true;
        this.stats.connections++;
        this.live.add(conn);
        resolve(conn);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (ready) return; // a live connection failing shows up as 'close' for its channels
        if (rejection) return reject(rejection);
        if (err.level === 'client-authentication') {
          return reject(new SshAuthError(target.name, `${target.name} refused key ${keyPath} for user ${target.user} (${target.address}:${target.port})`));
        }
        if (err.level === 'client-timeout') {
          return reject(new HostUnreachableError(target.name, `cannot connect to ${who}: no SSH handshake within ${target.connectTimeoutMs} ms`));
        }
        if (/no matching.*host key|handshake failed: no matching/i.test(err.message) && serverHostKey) {
          return reject(new NoCommonHostKey(`${who}: server offers none of ${serverHostKey.join(', ')}`));
        }
        const code = err.code ? `${err.code}` : err.message;
        const Unreachable = err.code && /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EHOSTDOWN)$/.test(err.code);
        if (Unreachable) return reject(new HostUnreachableError(target.name, `cannot connect to ${who}: ${code}`));
        return reject(new Error(`cannot connect to ${who}: ${code}${err.code && err.message && !err.message.includes(err.code) ? ` (${err.message})` : ''}`));
      });
      client.on('close', () => {
        conn.closed = true;
        clearTimeout(conn.idleTimer);
        this.live.delete(conn);
        this.forget(conn);
        resolveClosed();
        if (!ready) reject(rejection ?? new Error(`cannot connect to ${who}: connection closed during handshake`));
      });
      client.connect(cfg);
    });
  }
}

class ChannelOpenError extends Error {
  override readonly name = 'ChannelOpenError';
}
class PinMismatch extends Error {
  constructor(
    readonly keyType: string,
    readonly got: string,
  ) {
    super(`host key ${got} (${keyType}) does not match the pin`);
  }
}
class NoCommonHostKey extends Error {}

let shared: SshHostOps | undefined;

/** The worker-wide SSH HostOps (connections are shared and closed when idle). */
export function sshHostOps(): SshHostOps {
  shared ??= new SshHostOps();
  return shared;
}
