/**
 * The workflow driven by the step planner, for shapes other than the runbook's
 * (real Temporal dev server, recording activity doubles): the order of
 * membership changes, kept hosts never touched, a failed master only removed
 * from etcd (behind its own checkpoint), rolling one in / one out.
 */
import { describe, expect, it } from 'vitest';
import { planSchema, type GateId, type Plan, type PlanInput } from '../src/plan/schema';
import { TASK_QUEUE, WORKFLOW_TYPE, approveUpdate, statusQuery, workflowIdFor } from '../src/shared';
import { replaceFailedInput, shapedInput } from './support/history-variants';
import { uniqueCluster } from './support/plans';
import { type Call } from './support/recording-activities';
import { workflowTestEnv } from './support/temporal';
import { sleep } from '../src/lib/sleep';

const env = workflowTestEnv();

function plan(input: PlanInput, prefix: string, gates: Record<string, boolean> = {}): Plan {
  const cp = (g: string) => ({ enabled: gates[g] ?? false, remindAfter: '30m' });
  return planSchema.parse({
    ...input,
    cluster: uniqueCluster(prefix),
    checkpoints: {
      'preflight-ack': cp('preflight-ack'),
      'switch-traffic': cp('switch-traffic'),
      decommission: cp('decommission'),
      'remove-failed': cp('remove-failed'),
    },
    timeouts: { quick: '20s', long: '2m', heartbeat: '10s', maxAttempts: 3 },
    nodes: { drainTimeout: '1m' },
  });
}

async function migrate(p: Plan, approve: GateId[] = []): Promise<Call[]> {
  const taskQueue = `${TASK_QUEUE}-${p.cluster}`;
  return env.withWorker(
    {},
    async (calls) => {
      const h = await env.start(p, taskQueue);
      for (const gate of approve) {
        for (let i = 0; i < 300 && (await h.query(statusQuery)).pendingCheckpoint?.gate !== gate; i++) await sleep(100);
        await h.executeUpdate(approveUpdate, { args: [{ gate, by: 'test' }] });
      }
      await h.result();
      return calls;
    },
    taskQueue,
  );
}

const onHost = (calls: Call[], host: string) => calls.filter((c) => c.args.includes(host)).map((c) => c.name);
const membership = (calls: Call[]) =>
  calls
    .filter((c) => c.name === 'etcdJoinMember' || c.name === 'etcdRemoveMember')
    .map((c) => `${c.name === 'etcdJoinMember' ? 'join' : 'remove'} ${String(c.args[0])}`);

describe('the workflow in any shape', () => {
  it('replace a failed master: its member removed first behind remove-failed, nothing else on it; the kept two untouched', async () => {
    const p = plan(replaceFailedInput(), 'failed', { 'remove-failed': true });
    const calls = await migrate(p, ['remove-failed']);
    expect(membership(calls)).toEqual(['remove oldmaster-3', 'join master-1']);
    expect(onHost(calls, 'oldmaster-3')).toEqual(['etcdRemoveMember', 'labelNode']);
    // kept hosts: no host operation at all (the PKI is read from one: copyPki's source)
    expect(calls.filter((c) => c.args[0] === 'oldmaster-1' || c.args[0] === 'oldmaster-2').map((c) => c.name)).toEqual(['copyPki']);
    expect(calls.filter((c) => c.name === 'stopComponent')).toEqual([]);
    expect(calls.filter((c) => c.name === 'configureKeepalived').map((c) => c.args[0])).toEqual(['master-1']);
  });

  it('3 → 3 rolling: one in, one out; the last old member leaves with its decommission after the switch', async () => {
    const calls = await migrate(plan({ ...shapedInput(3, 3), strategy: 'rolling' }, 'rolling'));
    expect(membership(calls)).toEqual(['join master-1', 'remove oldmaster-1', 'join master-2', 'remove oldmaster-2', 'join master-3', 'remove oldmaster-3']);
    const vip = calls.findIndex((c) => c.name === 'verifyVip');
    const lastRemove = calls.findIndex((c) => c.name === 'etcdRemoveMember' && c.args[0] === 'oldmaster-3');
    expect(lastRemove).toBeGreaterThan(vip);
    // every old master still decommissioned and fenced, each removed exactly once
    for (const h of ['oldmaster-1', 'oldmaster-2', 'oldmaster-3']) {
      expect(onHost(calls, h).filter((n) => n === 'etcdRemoveMember')).toHaveLength(1);
      expect(onHost(calls, h)).toContain('fenceOldMaster');
    }
  });

  it('1 → 3 and 5 → 3 (rolling, accepted tolerance drop)', async () => {
    expect(membership(await migrate(plan(shapedInput(1, 3), 'one')))).toEqual(['join master-1', 'join master-2', 'join master-3', 'remove oldmaster-1']);
    const five = await migrate(plan(shapedInput(5, 3, { strategy: 'rolling', acceptToleranceDrop: true }), 'five'));
    expect(membership(five)).toEqual([
      'join master-1',
      'remove oldmaster-1',
      'join master-2',
      'remove oldmaster-2',
      'join master-3',
      'remove oldmaster-3',
      'remove oldmaster-4',
      'remove oldmaster-5',
    ]);
  });

  it('refuses 5 → 3 without acceptToleranceDrop before anything is touched', async () => {
    const p = { ...plan(shapedInput(5, 3, { strategy: 'rolling', acceptToleranceDrop: true }), 'refused'), acceptToleranceDrop: undefined };
    const taskQueue = `${TASK_QUEUE}-${p.cluster}`;
    const { err, calls } = await env.withWorker(
      {},
      async (calls) => ({
        calls,
        err: await env.client.workflow
          .execute(WORKFLOW_TYPE, { taskQueue, workflowId: workflowIdFor(p.cluster), args: [{ plan: p }] })
          .catch((e: Error & { cause?: Error }) => e.cause ?? e),
      }),
      taskQueue,
    );
    expect((err as Error).message).toMatch(
      /invalid plan \(nothing was changed\):[\s\S]*acceptToleranceDrop: 2 step\(s\) tolerate fewer failures than the starting cluster \(2\): down to 1 \(remove oldmaster-4 → 4 members, remove oldmaster-5 → 3 members\)/,
    );
    expect(calls).toEqual([]);
  });
});
