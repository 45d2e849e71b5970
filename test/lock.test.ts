/**
 * One migration per cluster, enforced by the cluster: the lock key in a real
 * etcd (3 members on 127.0.14.x), taken by the real lock activities on a real
 * Temporal dev server; the rest of the migration is recording doubles behind
 * the same lock guard the worker uses.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createLockActivities, withLockGuard } from '../src/activities/lock';
import { LockHeldError } from '../src/errors';
import { etcdAccess, withEtcdClient } from '../src/lib/etcd';
import { breakRecordPrefix, ensureLock, readLock, releaseLock, renewLock, takeLock } from '../src/lib/etcd-lock';
import type { Plan } from '../src/plan/schema';
import { BREAK_LOCK_WORKFLOW_TYPE, TASK_QUEUE, WORKFLOW_TYPE, approveUpdate, statusQuery, workflowIdFor, type MigrationStatus } from '../src/shared';
import { startEtcdLab, type EtcdLab, type LabHost } from './support/etcd-cluster';
import { recordingActivities } from './support/recording-activities';
import { startDevServer, type DevServer } from './support/temporal';

const OLD: LabHost[] = [1, 2, 3].map((i) => ({ name: `oldmaster-${i}`, address: `127.0.14.1${i}` }));
const NEW: LabHost[] = [1, 2, 3].map((i) => ({ name: `master-${i}`, address: `127.0.14.2${i}` }));
const TTL = 3;

let lab: EtcdLab;
let server: DevServer;
let client: Client;
let connection: NativeConnection;
let plan: Plan;

const etcd = <T>(fn: Parameters<typeof withEtcdClient<T>>[2]) =>
  withEtcdClient(
    etcdAccess(plan),
    OLD.map((h) => `http://${h.address}:2379`),
    fn,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  lab = await startEtcdLab({ cluster: 'lock-test', oldMasters: OLD, newMasters: NEW });
  const gate = { enabled: true, remindAfter: '30m' };
  plan = {
    ...lab.plan,
    checkpoints: {
      'preflight-ack': { ...gate, enabled: false },
      'switch-traffic': gate,
      decommission: { ...gate, enabled: false },
      'client-fixes': { ...gate, enabled: false },
    },
    timeouts: { ...lab.plan.timeouts, quick: '20s', long: '2m', heartbeat: '5s', maxAttempts: 3 },
    nodes: { ...lab.plan.nodes, drainTimeout: '1m' },
  };
  server = await startDevServer();
  client = await server.client();
  connection = await NativeConnection.connect({ address: server.address });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await server?.stop();
  await lab?.stop();
});

describe('the lock protocol against real etcd', () => {
  const A = { workflowId: 'cpmigrate-a', runId: 'run-a' };
  const B = { workflowId: 'raw-b', runId: 'run-b' };

  it('one holder at a time; renewals keep it; it lapses without them and is taken again; only the holder releases', async () => {
    await etcd(async (c) => {
      expect((await takeLock(c, 'p1', A, TTL)).how).toBe('taken');
      expect((await takeLock(c, 'p1', A, TTL)).how).toBe('already-ours');
      const held = await takeLock(c, 'p1', B, TTL).catch((e: unknown) => e);
      expect(held).toBeInstanceOf(LockHeldError);
      expect((held as Error).message).toContain('workflow cpmigrate-a (run run-a');
      await expect(renewLock(c, 'p1', B)).rejects.toThrow(LockHeldError);
      // renewed past several TTLs
      for (let i = 0; i < 4; i++) {
        await sleep(1_500);
        expect(await renewLock(c, 'p1', A)).toBe('renewed');
      }
      expect((await readLock(c, 'p1')).holder).toMatchObject(A);
      expect(await releaseLock(c, 'p1', B)).toBe('not-ours');
      // without renewals the lease expires and the key goes with it
      await sleep((TTL + 1.5) * 1000);
      expect((await readLock(c, 'p1')).holder).toBeUndefined();
      expect(await renewLock(c, 'p1', A)).toBe('absent'); // the keeper never re-creates it
      expect((await ensureLock(c, 'p1', A, TTL)).how).toBe('retaken'); // a change does
      expect(await releaseLock(c, 'p1', A)).toBe('released');
      expect((await readLock(c, 'p1')).holder).toBeUndefined();
      expect(await releaseLock(c, 'p1', A)).toBe('absent');
    });
  }, 60_000);

  it('the guard refuses every mutating activity while another migration holds the lock, before the activity runs', async () => {
    const { activities, calls } = recordingActivities();
    const { ensure } = createLockActivities({ ttlSeconds: TTL });
    const guarded = withLockGuard(activities, ensure);
    await etcd((c) => takeLock(c, plan.cluster, B, 30));
    const env = new MockActivityEnvironment({ workflowExecution: A } as never);
    await expect(env.run(guarded.drainNode, plan, 'master-1')).rejects.toThrow(/locked by another migration: workflow raw-b \(run run-b/);
    await expect(env.run(guarded.stopComponent, plan, 'oldmaster-1', 'apiserver' as const)).rejects.toThrow(LockHeldError);
    expect(calls).toEqual([]);
    // read-only activities are not guarded
    await env.run(guarded.verifyVip, plan, 'new' as const);
    expect(calls.map((x) => x.name)).toEqual(['verifyVip']);
    await etcd((c) => releaseLock(c, plan.cluster, B));
    await env.run(guarded.drainNode, plan, 'master-1');
    expect((await etcd((c) => readLock(c, plan.cluster))).holder).toMatchObject(A);
    await etcd((c) => releaseLock(c, plan.cluster, A));
  }, 60_000);
});

describe('migrations on the dev server', () => {
  async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
    const { activities } = recordingActivities();
    const { lock, ensure } = createLockActivities({ ttlSeconds: TTL });
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
      activities: withLockGuard({ ...activities, ...lock }, ensure),
    });
    return worker.runUntil(fn());
  }
  async function waitStatus(id: string, pred: (s: MigrationStatus) => boolean): Promise<MigrationStatus> {
    for (let i = 0; i < 200; i++) {
      const s = await client.workflow.getHandle(id).query(statusQuery);
      if (pred(s)) return s;
      await sleep(150);
    }
    throw new Error(`timed out waiting on ${id}`);
  }

  it('a second migration of the cluster (another workflow id) fails fast naming the holder; the lock outlives a long wait and is released at the end', async () => {
    await withWorker(async () => {
      const first = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
      const waiting = await waitStatus(first.workflowId, (s) => s.pendingCheckpoint?.gate === 'switch-traffic');
      expect(waiting.clusterLock).toMatchObject({ held: true });
      expect(waiting.completed[0]?.summary).toContain(`lock /cpmigrate/lock/${plan.cluster} taken by ${first.workflowId}`);

      // a raw `temporal workflow start` with another id
      const t0 = Date.now();
      const second = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: `raw-second-${Date.now()}`, args: [{ plan }] });
      const err = await second.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const msg = String(((err as WorkflowFailedError).cause as Error & { cause?: Error }).cause?.message);
      expect(msg).toContain(`workflow ${first.workflowId} (run ${first.firstExecutionRunId}`);
      expect(Date.now() - t0).toBeLessThan(15_000);
      // it scheduled nothing but the lock
      const scheduled: string[] = [];
      for (const ev of (await second.fetchHistory()).events ?? []) {
        const t = ev.activityTaskScheduledEventAttributes?.activityType?.name;
        if (t) scheduled.push(t);
      }
      expect(scheduled).toEqual(['clusterLockAcquire']);

      // the checkpoint waits several lease TTLs: the keeper keeps the lock
      await sleep(TTL * 3 * 1000);
      expect((await etcd((c) => readLock(c, plan.cluster))).holder).toMatchObject({ workflowId: first.workflowId, runId: first.firstExecutionRunId });

      await first.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'tester' }] });
      await first.result();
      expect((await first.query(statusQuery)).clusterLock).toMatchObject({ held: false, summary: `lock of ${plan.cluster} released` });
      expect((await etcd((c) => readLock(c, plan.cluster))).holder).toBeUndefined();
    });
  }, 120_000);

  it('abort releases the lock', async () => {
    await withWorker(async () => {
      const h = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: `${workflowIdFor(plan.cluster)}-abort`, args: [{ plan }] });
      await waitStatus(h.workflowId, (s) => s.pendingCheckpoint !== undefined);
      expect((await etcd((c) => readLock(c, plan.cluster))).holder?.workflowId).toBe(h.workflowId);
      await h.signal('abort', { reason: 'test', rollback: true });
      await h.result().catch(() => undefined);
      expect((await etcd((c) => readLock(c, plan.cluster))).holder).toBeUndefined();
    });
  }, 120_000);

  it('lock break: refused while the holder runs; a stale lock is broken, recorded in etcd and in history', async () => {
    await withWorker(async () => {
      const runBreak = (reason: string) =>
        client.workflow.execute(BREAK_LOCK_WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: `break-${Date.now()}`, args: [{ plan, by: 'tester', reason }] });
      // held by a running migration
      const live = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: `${workflowIdFor(plan.cluster)}-live`, args: [{ plan }] });
      await waitStatus(live.workflowId, (s) => s.pendingCheckpoint !== undefined);
      const refused = await runBreak('try').catch((e: unknown) => e);
      expect(String(((refused as WorkflowFailedError).cause as Error & { cause?: Error }).cause?.message)).toContain('is still running');
      expect((await etcd((c) => readLock(c, plan.cluster))).holder?.workflowId).toBe(live.workflowId);
      // the holder is terminated (its lock would linger until the lease expires): break it now
      await live.terminate('gone');
      const st = await etcd((c) => readLock(c, plan.cluster));
      if (!st.holder) await etcd((c) => takeLock(c, plan.cluster, { workflowId: live.workflowId, runId: live.firstExecutionRunId }, 60));
      const res = (await runBreak('holder terminated, CHG-7')) as { summary: string; recordKey: string };
      expect(res.summary).toContain(`broke the lock of ${plan.cluster} held by workflow ${live.workflowId}`);
      expect((await etcd((c) => readLock(c, plan.cluster))).holder).toBeUndefined();
      const record = JSON.parse((await etcd((c) => c.get(res.recordKey).string())) ?? '{}') as { by: string; reason: string; holder: { workflowId: string } };
      expect(res.recordKey.startsWith(breakRecordPrefix(plan.cluster))).toBe(true);
      expect(record).toMatchObject({ by: 'tester', reason: 'holder terminated, CHG-7', holder: { workflowId: live.workflowId } });
      // nothing held: nothing to break
      expect(((await runBreak('again')) as { summary: string }).summary).toContain('nothing to break');
    });
  }, 120_000);
});
