/**
 * `cpmigrate watch ID`: live progress until the migration ends. On a TTY a
 * progress bar over the steps plus what the current activity reports in its
 * heartbeats (pods left to drain, etcd catch-up, rollout counts); otherwise
 * one plain line per change; `--output json` prints one JSON object per change.
 */
import cliProgress from 'cli-progress';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { statusQuery, type MigrationStatus } from '../shared';
import { color } from './format';
import { sleep } from '../lib/sleep';

export interface WatchFrame {
  at: string;
  execution: string;
  state: MigrationStatus['state'];
  done: number;
  total: number;
  step?: string;
  host?: string;
  waitingFor?: string;
  activity?: { type: string; attempt: number; heartbeat?: unknown };
  pendingGate?: string;
  lastError?: string;
}

/** One snapshot of the migration: status query + the pending activity's last heartbeat. */
export async function snapshot(client: Client, handle: WorkflowHandle): Promise<WatchFrame> {
  const desc = await handle.describe();
  const s = await handle.query(statusQuery).catch(() => undefined);
  const pending = desc.raw.pendingActivities?.[0];
  let heartbeat: unknown;
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  if (payload) {
    try {
      heartbeat = client.options.loadedDataConverter.payloadConverter.fromPayload(payload);
    } catch {
      heartbeat = undefined;
    }
  }
  return {
    at: new Date().toISOString(),
    execution: desc.status.name,
    state: s?.state ?? (desc.status.name === 'COMPLETED' ? 'completed' : 'failed'),
    done: s?.completed.length ?? 0,
    total: s?.totalSteps ?? 0,
    step: s?.currentStep?.key,
    host: s?.currentStep?.host,
    waitingFor: s?.currentStep?.waitingFor,
    activity: pending ? { type: pending.activityType?.name ?? '?', attempt: pending.attempt ?? 1, heartbeat } : undefined,
    pendingGate: s?.pendingCheckpoint?.gate,
    lastError: s?.lastError?.message,
  };
}

function describeHeartbeat(h: unknown): string {
  if (h === undefined || h === null) return '';
  if (typeof h !== 'object') return String(h);
  return Object.entries(h as Record<string, unknown>)
    .filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export function frameLine(f: WatchFrame): string {
  const parts = [`[${f.done}/${f.total}]`, f.state];
  if (f.step) parts.push(f.step);
  if (f.waitingFor) parts.push(`- ${f.waitingFor}`);
  if (f.activity)
    parts.push(
      `(${f.activity.type}${f.activity.attempt > 1 ? ` attempt ${f.activity.attempt}` : ''}${f.activity.heartbeat ? `: ${describeHeartbeat(f.activity.heartbeat)}` : ''})`,
    );
  if (f.lastError) parts.push(`ERROR: ${f.lastError}`);
  return parts.join(' ');
}

export async function watch(client: Client, handle: WorkflowHandle, opts: { json: boolean; intervalMs: number; maxMs: number }): Promise<WatchFrame> {
  const tty = process.stdout.isTTY && !opts.json;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${color.cyan('{bar}')} {value}/{total} steps | {line}`, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let last = '';
  let frame = await snapshot(client, handle);
  bar?.start(frame.total, frame.done, { line: '' });
  const until = Date.now() + opts.maxMs;
  for (;;) {
    const line = frameLine(frame);
    if (bar) {
      bar.setTotal(frame.total);
      bar.update(frame.done, { line: line.slice(0, (process.stdout.columns ?? 120) - 40) });
    } else if (line !== last) {
      process.stdout.write(opts.json ? `${JSON.stringify(frame)}\n` : `${frame.at.slice(11, 19)} ${line}\n`);
    }
    last = line;
    if (frame.execution !== 'RUNNING' || Date.now() > until) break;
    await sleep(opts.intervalMs);
    frame = await snapshot(client, handle);
  }
  bar?.stop();
  if (tty) process.stdout.write(`${frame.execution}: ${frameLine(frame)}\n`);
  return frame;
}
