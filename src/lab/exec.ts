/** Running local commands for the lab: bounded, with the command in every error. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep } from '../lib/sleep';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs argv; never throws for a non-zero exit (see `must`). */
export function run(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr) || (err && code === 127 ? err.message : ''), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs argv and throws with the command and stderr when it fails. */
export async function must(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`\`${argv.join(' ')}\` exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  return r.stdout;
}

/** A shell one-liner. */
export const sh = (script: string, opts: { timeoutMs?: number; input?: string } = {}) => must(['sh', '-c', script], opts);

/** The pid in a pid file if that process is alive, else undefined. */
export function livePid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    process.kill(pid, 0);
    // a zombie still answers kill(0): treat it as gone
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return / Z /.test(stat.slice(stat.lastIndexOf(')'))) ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns a value, or throws after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}
