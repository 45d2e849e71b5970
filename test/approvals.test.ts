/**
 * Approvals that do not count are never dropped silently: one sent before its
 * checkpoint is pending shows in status (and the Web UI details, and
 * `cpmigrate status`), is not taken, and the operator is told to send it again.
 * Real dev server, recording activity doubles.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { renderStatus } from '../src/cli/format';
import { TASK_QUEUE, WORKFLOW_TYPE, approveSignal, approveUpdate, statusQuery, workflowIdFor, type MigrationStatus } from '../src/shared';
import { testPlan, uniqueCluster } from './support/plans';
import { recordingActivities } from './support/recording-activities';
import { startDevServer, type DevServer } from './support/temporal';

let server: DevServer;
let client: Client;
let connection: NativeConnection;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await startDevServer();
  client = await server.client();
  connection = await NativeConnection.connect({ address: server.address });
});

afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

async function waitStatus(id: string, pred: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> {
  const handle = client.workflow.getHandle(id);
  let last: MigrationStatus | undefined;
  for (let i = 0; i < 200; i++) {
    last = await handle.query(statusQuery);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

describe('approvals sent too early', () => {
  it('are visible in status, never counted, and the operator is told to approve again', async () => {
    const plan = testPlan({ cluster: uniqueCluster('early'), gates: ['preflight-ack', 'switch-traffic'] });
    let release!: () => void;
    const draining = new Promise<void>((r) => (release = r));
    const { activities, calls } = recordingActivities({ before: (c) => (c.name === 'drainNode' && c.args[0] === 'master-1' ? draining : undefined) });
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
      activities,
    });
    await worker.runUntil(async () => {
      const id = workflowIdFor(plan.cluster);
      const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: id, args: [{ plan }] });
      await waitStatus(id, (s) => s.pendingCheckpoint?.gate === 'preflight-ack', 'preflight-ack');

      // 1. a signal for the next checkpoint while another one waits
      await handle.signal(approveSignal, { gate: 'switch-traffic', by: 'early-bird', reason: 'CHG-1' });
      const s1 = await waitStatus(id, (s) => (s.ignoredApprovals?.length ?? 0) === 1, 'the ignored approval');
      expect(s1.ignoredApprovals?.[0]).toMatchObject({ gate: 'switch-traffic', by: 'early-bird', early: true });
      expect(s1.ignoredApprovals?.[0]?.why).toContain('the pending checkpoint is "preflight-ack", not "switch-traffic"');
      expect(s1.approvals).toEqual([]);

      // 2. a signal while no checkpoint waits (a step runs)
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'preflight-ack', by: 'alice' }] });
      await waitStatus(id, (s) => s.currentStep?.key === 'prepare-new-nodes/master-1', 'the drain');
      await handle.signal(approveSignal, { gate: 'switch-traffic', by: 'early-bird-2' });
      const s2 = await waitStatus(id, (s) => (s.ignoredApprovals?.length ?? 0) === 2, 'the second ignored approval');
      expect(s2.ignoredApprovals?.[1]?.why).toContain('checkpoint "switch-traffic" is not pending yet (the migration is at prepare-new-nodes/master-1)');
      expect(s2.ignoredApprovals?.[1]?.why).toContain('NOT taken');
      // the update (what `cpmigrate approve` sends) is refused with the same words
      const early = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'bob' }] }).catch((e: unknown) => e);
      expect(early).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((early as WorkflowUpdateFailedError).cause?.message)).toContain('is not pending yet');

      // 3. at the checkpoint: still waiting, status says the early ones did not count
      release();
      const waiting = await waitStatus(id, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic');
      expect(waiting.state).toBe('waiting-approval');
      expect(waiting.approvals.map((a) => a.gate)).toEqual(['preflight-ack']);
      expect(calls.some((c) => c.name === 'configureKeepalived')).toBe(false);
      const text = renderStatus(waiting);
      expect(text).toContain('Ignored approvals (2; they did NOT approve anything)');
      expect(text).toContain('switch-traffic by early-bird (sent before it was pending)');
      expect(text).toContain('"switch-traffic" is pending now: approve it again');

      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'carol' }] });
      const result = (await handle.result()) as { approvals: Array<{ gate: string; by: string }> };
      expect(result.approvals.map((a) => `${a.gate}:${a.by}`)).toEqual(['preflight-ack:alice', 'switch-traffic:carol']);
    });
  }, 90_000);

  it('a signal for a checkpoint disabled in the plan says so', async () => {
    const plan = testPlan({ cluster: uniqueCluster('disabled'), gates: ['switch-traffic'] });
    const { activities } = recordingActivities();
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
      activities,
    });
    await worker.runUntil(async () => {
      const id = workflowIdFor(plan.cluster);
      const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: id, args: [{ plan }] });
      await waitStatus(id, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic');
      await handle.signal(approveSignal, { gate: 'decommission', by: 'dan' });
      const s = await waitStatus(id, (x) => (x.ignoredApprovals?.length ?? 0) === 1, 'the ignored approval');
      expect(s.ignoredApprovals?.[0]).toMatchObject({ gate: 'decommission', early: false });
      expect(s.ignoredApprovals?.[0]?.why).toContain('disabled in this migration');
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'dan' }] });
      await handle.result();
    });
  }, 90_000);
});
