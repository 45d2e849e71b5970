/**
 * One command on one channel of an open connection: stdout/stderr apart, the
 * exit code (a signal as 128+n), a timeout, heartbeats while it runs, and on
 * timeout or cancellation the command's whole process group killed (OpenSSH
 * refuses "signal" requests for root sessions).
 */
import os from 'node:os';
import type { ClientChannel } from 'ssh2';
import { beat, cancelled } from '../heartbeat';
import type { RunOptions } from '../hostops';
import type { Conn } from './connect';

/** Default bound for a command when the caller gives none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
const STDERR_TAIL_LINES = 20;
const STDERR_TAIL_BYTES = 2048;
const HEARTBEAT_EVERY_MS = 5_000;
const PGID_MARK = '__cpmigrate_pgid=';

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  signal?: string;
}

export interface ExecOptions extends RunOptions {
  /** what error messages call the command (default: the command itself) */
  label?: string;
}

/** The channel could not be opened (the command never started): safe to retry on a fresh connection. */
export class ChannelOpenError extends Error {
  override readonly name = 'ChannelOpenError';
}

/** Last lines of stderr for error messages (at most 20 lines / 2 KB). */
export function stderrTail(stderr: string): string {
  const lines = stderr.replace(/\s+$/, '').split('\n');
  let tail = lines.slice(-STDERR_TAIL_LINES).join('\n');
  if (tail.length > STDERR_TAIL_BYTES) tail = `…${tail.slice(-STDERR_TAIL_BYTES)}`;
  return tail;
}

export function signalExitCode(signal: string | undefined): number {
  const n = signal ? (os.constants.signals as Record<string, number>)[`SIG${signal}`] : undefined;
  return n ? 128 + n : 255;
}

/** A command as error messages show it: one line, at most 300 characters. */
export function describeCommand(cmd: string): string {
  const one = cmd.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}

/** Kill the command's process group from a second channel, then signal and close its own. */
function killCommand(conn: Conn, stream: ClientChannel | undefined, pgid: number | undefined): void {
  // the login shell leads the group (sshd runs it with setsid); the signal request still helps for non-root users
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
}

/**
 * stderr with the shell's pid line taken out. The line is normally the very
 * first; a chatty ~/.bashrc may print before it. Bytes are held back until it
 * is seen (or 16 KB pass).
 */
class PgidFilter {
  pgid: number | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  readonly chunks: Buffer[] = [];

  push(d: Buffer): void {
    if (!this.head) return void this.chunks.push(d);
    this.head = Buffer.concat([this.head, d]);
    if (/(^|\n)__cpmigrate_pgid=\d*\n/.test(this.head.toString('latin1')) || this.head.length > 16_384) this.flush();
  }

  flush(): void {
    const head = this.head;
    if (!head) return;
    const text = head.toString('latin1');
    const at = text.startsWith(PGID_MARK) ? 0 : text.indexOf(`\n${PGID_MARK}`) + 1;
    const eol = at > 0 || text.startsWith(PGID_MARK) ? text.indexOf('\n', at) : -1;
    if (eol >= 0) {
      this.pgid = Number(text.slice(at + PGID_MARK.length, eol)) || undefined;
      this.chunks.push(Buffer.concat([head.subarray(0, at), head.subarray(eol + 1)]));
    } else {
      this.chunks.push(head);
    }
    this.head = undefined;
  }
}

/** Run `command` on `conn` (the caller holds a channel slot). `onStart` is called once the channel is open. */
export function execOn(conn: Conn, command: string, opts: ExecOptions, onStart: () => void = () => undefined): Promise<ExecResult> {
  const t = conn.target;
  const label = describeCommand(opts.label ?? command);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let stream: ClientChannel | undefined;
    const timers: NodeJS.Timeout[] = [];
    const stderr = new PgidFilter();
    const finish = (err: Error | undefined, r?: ExecResult) => {
      if (settled) return;
      settled = true;
      timers.forEach((x) => clearTimeout(x));
      if (err) reject(err);
      else resolve(r as ExecResult);
    };
    const kill = () => killCommand(conn, stream, stderr.pgid);
    try {
      // first line of stderr: the shell's pid (= its process group), stripped by PgidFilter
      conn.client.exec(`echo ${PGID_MARK}$$ >&2\n${command}`, (err, ch) => {
        if (err) return finish(new ChannelOpenError(`${t.name} (${t.address}:${t.port}): cannot start \`${label}\`: ${err.message}`));
        if (settled) {
          ch.close();
          return;
        }
        stream = ch;
        onStart();
        const out: Buffer[] = [];
        let exitCode: number | null = null;
        let signal: string | undefined;
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => stderr.push(d));
        ch.on('exit', (...args: unknown[]) => {
          exitCode = typeof args[0] === 'number' ? args[0] : null;
          signal = typeof args[1] === 'string' ? args[1] : undefined;
        });
        ch.on('close', () => {
          stderr.flush();
          if (exitCode === null && signal === undefined && conn.closed) {
            return finish(new Error(`${t.name} (${t.address}:${t.port}): connection lost while running \`${label}\``));
          }
          finish(undefined, { stdout: Buffer.concat(out), stderr: Buffer.concat(stderr.chunks), exitCode, signal });
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
