/**
 * Durable resume: the worker process is killed -9 mid-activity, or the
 * Temporal dev server (persisted to SQLite) is killed and restarted, and the
 * migration still completes with every completed step's side effect exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { TASK_QUEUE, WORKFLOW_TYPE, statusQuery, workflowIdFor } from '../src/shared';
import { testPlan, uniqueCluster } from './support/plans';
import { startDevServer, type DevServer } from './support/temporal';
import type { Plan } from '../src/plan/schema';

interface JournalLine {
  ev: 'start' | 'done';
  name: string;
  args: unknown[];
  attempt: number;
  pid: number;
}

let server: DevServer;
let client: Client;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  server = await startDevServer();
  client = await server.client();
});
afterEach(() => {
  for (const w of workers.splice(0)) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
});
afterAll(async () => {
  await server?.stop();
});

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  // node itself (not the tsx wrapper, which forks a child) so kill -9 hits the worker
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'journal-worker.ts')], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  workers.push(proc);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('worker did not start within 60 s')), 60_000);
    proc.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('worker ready')) {
        clearTimeout(t);
        resolve(proc);
      }
    });
    proc.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

function readJournal(file: string): JournalLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JournalLine);
}

const key = (l: JournalLine) => `${l.name} ${JSON.stringify(l.args)}`;

async function waitFor(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every (activity, args) finished exactly once as often as the workflow calls it. */
function assertExactlyOnce(lines: JournalLine[], plan: Plan, interrupted: string): void {
  const done = new Map<string, number>();
  for (const l of lines.filter((x) => x.ev === 'done')) done.set(key(l), (done.get(key(l)) ?? 0) + 1);
  // calls the workflow legitimately makes more than once with the same args
  const repeated = new Set(['etcdClientURLs []', 'verifyVip ["new"]']);
  for (const [k, n] of done)
    if (!repeated.has(k) && !k.startsWith('startComponent') && !k.startsWith('stopComponent') && !k.startsWith('waitComponentHealthy')) expect(n, k).toBe(1);
  // per-host component calls: exactly the number the runbook makes (keepalived in vip-failover + 4 in decommission)
  const comp = [...done].filter(([k]) => k.startsWith('stopComponent ["oldmaster-1"'));
  expect(comp.reduce((a, [, n]) => a + n, 0)).toBe(5);
  expect(done.get(interrupted)).toBe(1);
  // the steps the workflow completed match the plan
  expect([...done.keys()].filter((k) => k.startsWith('etcdJoinMember'))).toEqual(plan.newMasters.map((h) => `etcdJoinMember ["${h.name}"]`));
}

describe('durable resume', () => {
  it('survives kill -9 of the worker while an activity is in flight', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-dur-'));
    const journal = path.join(dir, 'journal.jsonl');
    const release = path.join(dir, 'release');
    const plan = testPlan({ cluster: uniqueCluster('wcrash'), heartbeat: '3s' });
    const w1 = await startWorker({ CPM_JOURNAL: journal, CPM_SLOW_CALL: 'etcdJoinMember:master-2', CPM_RELEASE: release });
    const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
    await waitFor(() => readJournal(journal).some((l) => l.ev === 'start' && key(l) === 'etcdJoinMember ["master-2"]'), 'etcdJoinMember master-2 in flight');
    const before = readJournal(journal);
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    expect(before.some((l) => l.ev === 'done' && key(l) === 'etcdJoinMember ["master-2"]')).toBe(false);

    writeFileSync(release, 'go');
    await startWorker({ CPM_JOURNAL: journal, CPM_SLOW_CALL: 'etcdJoinMember:master-2', CPM_RELEASE: release });
    const result = await handle.result();
    expect(result.cluster).toBe(plan.cluster);

    const lines = readJournal(journal);
    const pids = new Set(lines.map((l) => l.pid));
    expect(pids.size).toBe(2); // both workers did work
    const retried = lines.filter((l) => key(l) === 'etcdJoinMember ["master-2"]');
    expect(retried.filter((l) => l.ev === 'start').length).toBe(2); // interrupted attempt re-ran on the new worker
    expect(retried.find((l) => l.ev === 'done')?.attempt).toBe(2);
    assertExactlyOnce(lines, plan, 'etcdJoinMember ["master-2"]');
    // steps completed before the crash were not repeated by the new worker
    const firstPid = before[0]?.pid;
    const doneBefore = before.filter((l) => l.ev === 'done').map(key);
    const doneAfter = lines.filter((l) => l.ev === 'done' && l.pid !== firstPid).map(key);
    expect(doneAfter.filter((k) => doneBefore.includes(k) && !k.includes('Component') && k !== 'etcdClientURLs []')).toEqual([]);
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('completed');
  });

  it('survives kill -9 of the Temporal server (SQLite-persisted) and its restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-dur-'));
    const journal = path.join(dir, 'journal.jsonl');
    const release = path.join(dir, 'release');
    const plan = testPlan({ cluster: uniqueCluster('scrash'), heartbeat: '5s' });
    await startWorker({ CPM_JOURNAL: journal, CPM_SLOW_CALL: 'copyPki:oldmaster-1', CPM_RELEASE: release });
    const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
    await waitFor(() => readJournal(journal).some((l) => l.ev === 'start' && l.name === 'copyPki'), 'copyPki in flight');
    await server.crash();
    writeFileSync(release, 'go'); // the activity finishes while the server is down
    await new Promise((r) => setTimeout(r, 1_000));
    await server.restart();
    const fresh = await server.client();
    const result = await fresh.workflow.getHandle(handle.workflowId).result();
    expect(result.cluster).toBe(plan.cluster);
    const lines = readJournal(journal);
    const done = lines.filter((l) => l.ev === 'done').map(key);
    // a step completed before the crash is never repeated
    expect(done.filter((k) => k === 'etcdJoinMember ["master-1"]')).toHaveLength(1);
    expect(done.filter((k) => k === 'drainNode ["master-1"]')).toHaveLength(1);
    expect(done.filter((k) => k === 'etcdSnapshot []')).toHaveLength(1);
    expect(done.filter((k) => k === 'setExporterEndpoints [["10.200.20.101","10.200.20.102","10.200.20.103"]]')).toHaveLength(1);
    const status = await fresh.workflow.getHandle(handle.workflowId).query(statusQuery);
    expect(status.state).toBe('completed');
    expect(status.completed).toHaveLength(status.totalSteps);
  });
});
