/**
 * The operator CLI against a real running migration: start, status, list,
 * approve (synchronous, validated), watch, all with --output json too, plus
 * the search attributes that let `temporal workflow list` find a migration
 * waiting at a checkpoint.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { TASK_QUEUE, WORKFLOW_TYPE, statusQuery, workflowIdFor, type MigrationStatus } from '../src/shared';
import { recordingActivities } from './support/recording-activities';
import { EXAMPLE_PLAN, testPlan } from './support/plans';
import { startDevServer, temporalBinary, type DevServer } from './support/temporal';
import type { WatchFrame } from '../src/cli/watch';
import { livenessInterceptor } from '../src/activities/liveness';

const exec = promisify(execFile);
const CLI = path.join(__dirname, '..', 'bin', 'cpmigrate.js');
let server: DevServer;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1', CPM_USER: 'tester' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out: ${what}`);
}

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await startDevServer();
  connection = await NativeConnection.connect({ address: server.address });
  // etcd joins take 3 s each so `watch` (polling every 300 ms, slower on a loaded machine) surely sees them
  const { activities } = recordingActivities({ before: (c) => new Promise((r) => setTimeout(r, c.name === 'etcdJoinMember' ? 3_000 : 50)) });
  worker = await Worker.create({
    interceptors: { activity: [livenessInterceptor] },
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
    activities,
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await server?.stop();
});

describe('cpmigrate CLI against a running migration', () => {
  it('start → status/list/search attributes at a checkpoint → approve → watch to the end', async () => {
    const started = await cli(['start', EXAMPLE_PLAN, '--output', 'json']);
    expect(started.stderr).toBe('');
    const { workflowId, searchAttributes } = JSON.parse(started.stdout) as { workflowId: string; searchAttributes: boolean };
    expect(workflowId).toBe('cpmigrate-test-bj');
    expect(searchAttributes).toBe(true);

    // a second start for the same cluster is refused
    const again = await cli(['start', EXAMPLE_PLAN]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('already running as cpmigrate-test-bj');

    const waiting = await until(async () => {
      const r = await cli(['status', 'test-bj', '--output', 'json']);
      const s = JSON.parse(r.stdout) as MigrationStatus;
      return s.pendingCheckpoint?.gate === 'preflight-ack' ? s : undefined;
    }, 'preflight-ack pending');
    expect(waiting.completed.map((c) => c.key)).toEqual(['preflight']);

    const table = await cli(['status', 'test-bj']);
    expect(table.stdout).toMatch(/preflight\s+│\s+│\s+completed/);
    expect(table.stdout).toContain('Checkpoint "preflight-ack" waiting since');
    expect(table.stdout).toContain('npx cpmigrate approve cpmigrate-test-bj preflight-ack');

    // search attributes: the Web UI / temporal CLI filter finds it
    const listed = await until(async () => {
      const r = await cli(['list', '--output', 'json']);
      const rows = JSON.parse(r.stdout) as Array<{ workflowId: string; pendingGate?: string; cluster?: string }>;
      return rows.find((x) => x.workflowId === workflowId && x.pendingGate === 'preflight-ack');
    }, 'list shows the pending gate');
    expect(listed.cluster).toBe('test-bj');
    const t = await exec(temporalBinary(), ['workflow', 'list', '--address', server.address, '--query', "CpmPendingGate='preflight-ack'", '--output', 'json']);
    expect(t.stdout).toContain(workflowId);

    // a wrong gate is rejected synchronously, nothing recorded
    const wrong = await cli(['approve', 'test-bj', 'decommission']);
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toContain('the pending checkpoint is "preflight-ack", not "decommission"');
    const unknown = await cli(['approve', 'test-bj', 'nope']);
    expect(unknown.code).toBe(64); // usage: not a checkpoint name

    const ok = await cli(['approve', 'test-bj', 'preflight-ack', '--reason', 'kubeconfigs checked', '--output', 'json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ gate: 'preflight-ack', by: 'tester', reason: 'kubeconfigs checked' });

    // watch in JSON mode while approving the remaining gates as they come
    const frames: WatchFrame[] = [];
    const w = spawn(process.execPath, [CLI, 'watch', 'test-bj', '--output', 'json', '--interval', '300ms', '--max', '560s'], {
      env: { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1' },
    });
    let buf = '';
    w.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) frames.push(JSON.parse(l) as WatchFrame);
    });
    const exited = new Promise<number | null>((r) => w.once('exit', r));
    for (const gate of ['switch-traffic', 'decommission']) {
      await until(async () => (frames.some((f) => f.pendingGate === gate) ? true : undefined), `watch shows ${gate}`, 120_000);
      expect((await cli(['approve', 'test-bj', gate])).code).toBe(0);
    }
    expect(await exited).toBe(0);
    const last = frames.at(-1);
    expect(last?.execution).toBe('COMPLETED');
    expect(last?.done).toBe(last?.total);
    const dones = frames.map((f) => f.done);
    expect([...dones].sort((a, b) => a - b)).toEqual(dones); // monotonic progress
    expect(frames.some((f) => f.step?.startsWith('etcd-join/'))).toBe(true);

    const client = await server.client();
    const final = await client.workflow.getHandle(workflowId).query(statusQuery);
    expect(final.approvals.map((a) => `${a.gate}:${a.by}`)).toEqual(['preflight-ack:tester', 'switch-traffic:tester', 'decommission:tester']);
    const done = await cli(['status', 'test-bj', '--output', 'json']);
    expect(JSON.parse(done.stdout)).toMatchObject({ state: 'completed', execution: 'COMPLETED' });
  }, 600_000);
  it('abort reports synchronously whether the workflow took it: accepted before, refused after the point of no return', async () => {
    const client = await server.client();
    const fresh = testPlan({ cluster: 'cli-abort-a', gates: ['switch-traffic'] });
    const resumed = testPlan({ cluster: 'cli-abort-b', gates: ['switch-traffic'] });
    const a = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(fresh.cluster), args: [{ plan: fresh }] });
    const b = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: workflowIdFor(resumed.cluster),
      args: [{ plan: resumed, features: { resume: true } }],
    });
    for (const h of [a, b]) await until(async () => ((await h.query(statusQuery)).pendingCheckpoint ? true : undefined), 'checkpoint');
    const ok = await cli(['abort', fresh.cluster, '--reason', 'window closed', '--output', 'json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: 'accepted', reason: 'window closed', by: 'tester' });
    await expect(a.result()).rejects.toThrow();
    const no = await cli(['abort', resumed.cluster, '--reason', 'too late']);
    expect(no.code).toBe(7);
    expect(no.stdout).toContain('refused: past the point of no return');
    await b.terminate('test done');
  });
});
