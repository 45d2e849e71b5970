/**
 * Approvals see what they approve (src/workflows/evidence.ts), on a real
 * Temporal dev server with recording activity doubles whose evidence changes
 * on cue: a checkpoint shows its evidence and digest; the approval records
 * the digest; the evidence read again right before acting that differs holds
 * the migration (the difference in status, nothing of the next step run)
 * until a fresh approval; an approval of the stale digest is rejected by the
 * update; an approval older than expiresAfter lapses.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { livenessInterceptor } from '../src/activities/liveness';
import { renderStatus } from '../src/cli/format';
import type { EtcdHealthReport } from '../src/lib/etcd';
import type { Plan } from '../src/plan/schema';
import { TASK_QUEUE, WORKFLOW_TYPE, approveUpdate, pauseSignal, resumeSignal, statusQuery, workflowIdFor, type MigrationStatus } from '../src/shared';
import { testPlan, uniqueCluster } from './support/plans';
import { healthyOldMembers, recordingActivities, withMemberDown, type RecordingOptions } from './support/recording-activities';
import { startDevServer, type DevServer } from './support/temporal';

let server: DevServer;
let client: Client;
let connection: NativeConnection;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await startDevServer();
  client = await server.client();
  connection = await NativeConnection.connect({ address: server.address });
  bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

async function waitStatus(plan: Plan, pred: (s: MigrationStatus) => boolean, what: string, ms = 60_000): Promise<MigrationStatus> {
  const handle = client.workflow.getHandle(workflowIdFor(plan.cluster));
  const until = Date.now() + ms;
  let last: MigrationStatus | undefined;
  while (Date.now() < until) {
    last = await handle.query(statusQuery);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

type Rec = ReturnType<typeof recordingActivities>;

async function scenario(plan: Plan, opts: RecordingOptions, body: (rec: Rec) => Promise<void>): Promise<void> {
  const rec = recordingActivities(opts);
  const worker = await Worker.create({
    interceptors: { activity: [livenessInterceptor] },
    connection,
    taskQueue: TASK_QUEUE,
    workflowBundle: bundle,
    activities: rec.activities,
  });
  await worker.runUntil(async () => {
    await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
    await body(rec);
  });
}

/** oldmaster-2's etcd member unreachable */
const oldmaster2Down = (plan: Plan): EtcdHealthReport => withMemberDown(healthyOldMembers(plan), 'oldmaster-2', 'connect ECONNREFUSED 10.200.20.12:2379');

const CLI = path.join(__dirname, '..', 'bin', 'cpmigrate.js');
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1', CPM_USER: 'tester' },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const vipCalls = (rec: Rec) => rec.calls.filter((c) => c.name === 'configureKeepalived' || c.name === 'stopComponent');

describe('a checkpoint shows its evidence; an approval holds only for the cluster it saw', () => {
  it('evidence changed between approval and acting: holds with the difference; the stale digest is rejected; a fresh approval goes on', async () => {
    const plan = testPlan({ cluster: uniqueCluster('ev'), gates: ['switch-traffic'] });
    // read 1: when the checkpoint waits; read 2 (before acting) and later: oldmaster-2 down
    await scenario(plan, { evidence: (n, gate, p) => (gate === 'switch-traffic' && n >= 2 ? { health: oldmaster2Down(p) } : undefined) }, async (rec) => {
      const handle = client.workflow.getHandle(workflowIdFor(plan.cluster));
      const first = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic checkpoint');
      const seen = first.pendingCheckpoint?.evidence;
      expect(seen?.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(seen?.facts.etcd.members.map((m) => `${m.name}:${m.healthy}`)).toEqual(['oldmaster-1:true', 'oldmaster-2:true', 'oldmaster-3:true']);
      expect(seen?.facts.vip.holders).toEqual(['oldmaster-1']);
      expect(first.pendingCheckpoint?.approveCommands[0]).toContain(`--evidence ${seen?.digest.slice(0, 12)}`);
      expect(first.pendingCheckpoint?.approveCommands[1]).toContain(`"evidenceDigest":"${seen?.digest}"`);
      expect(renderStatus(first)).toContain(`Evidence (digest ${seen?.digest.slice(0, 12)}`);

      const rec1 = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'alice', evidenceDigest: seen?.digest }] });
      expect(rec1.evidenceDigest).toBe(seen?.digest);

      // read again before acting: changed → the approval is revoked, the checkpoint waits again with the difference
      const held = await waitStatus(plan, (s) => s.pendingCheckpoint?.reapproval !== undefined, 'the checkpoint pending again');
      const change = 'etcd member oldmaster-2 was healthy, now unhealthy: connect ECONNREFUSED 10.200.20.12:2379';
      expect(held.state).toBe('waiting-approval');
      expect(held.pendingCheckpoint?.reapproval).toMatchObject({ by: 'alice', lapsed: false, changes: [change] });
      expect(held.approvals).toEqual([]);
      expect(held.ignoredApprovals?.at(-1)?.why).toContain(`the cluster changed since the approval by alice at ${rec1.at}: ${change}`);
      expect(held.pendingCheckpoint?.evidence?.digest).not.toBe(seen?.digest);
      expect(renderStatus(held)).toContain(`changed: ${change}`);
      expect(vipCalls(rec)).toEqual([]);
      expect(rec.evidenceReads()).toBe(2);

      // approving what was seen before (the stale digest) is rejected, nothing recorded
      const stale = await handle
        .executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'alice', evidenceDigest: seen?.digest.slice(0, 12) }] })
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((stale as WorkflowUpdateFailedError).cause?.message)).toContain(
        `the evidence of checkpoint "switch-traffic" is not the one approved: approved ${seen?.digest.slice(0, 12)}, it is ${held.pendingCheckpoint?.evidence?.digest.slice(0, 12)} now (${change})`,
      );
      expect((await handle.query(statusQuery)).approvals).toEqual([]);

      // a fresh approval of what status shows now: read again (unchanged), go on
      const rec2 = await handle.executeUpdate(approveUpdate, {
        args: [{ gate: 'switch-traffic', by: 'bob', evidenceDigest: held.pendingCheckpoint?.evidence?.digest }],
      });
      expect(rec2.evidenceDigest).toBe(held.pendingCheckpoint?.evidence?.digest);
      await handle.result();
      const done = await handle.query(statusQuery);
      expect(done.completed.find((s) => s.key === 'checkpoint/switch-traffic')?.summary).toMatch(
        /^approved by bob; evidence [0-9a-f]{12}: 2\/3 etcd members healthy, VIP on oldmaster-1 \(unchanged when acting\)$/,
      );
      expect(rec.evidenceReads()).toBe(3);
      expect(vipCalls(rec).length).toBeGreaterThan(0);
    });
  }, 180_000);

  it('an approval older than expiresAfter when the workflow gets to act lapses, and says so', async () => {
    const base = testPlan({ cluster: uniqueCluster('exp'), gates: ['switch-traffic'] });
    const plan: Plan = { ...base, checkpoints: { ...base.checkpoints, 'switch-traffic': { enabled: true, remindAfter: '30m', expiresAfter: '2s' } } };
    await scenario(plan, {}, async (rec) => {
      const handle = client.workflow.getHandle(workflowIdFor(plan.cluster));
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic checkpoint');
      // paused: the approval is taken, but the workflow gets to act only at resume, 3 s later
      await handle.signal(pauseSignal, { by: 'carol' });
      await waitStatus(plan, (s) => s.paused, 'paused');
      const approval = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'carol' }] });
      await new Promise((r) => setTimeout(r, 3_000));
      expect(vipCalls(rec)).toEqual([]);
      await handle.signal(resumeSignal, { by: 'carol' });
      const lapsed = await waitStatus(plan, (s) => s.pendingCheckpoint?.reapproval !== undefined, 'the lapsed approval');
      expect(lapsed.pendingCheckpoint?.reapproval).toMatchObject({ by: 'carol', lapsed: true, changes: [] });
      expect(lapsed.pendingCheckpoint?.reapproval?.why).toMatch(
        new RegExp(
          `^the approval by carol at ${approval.at.replace(/\./g, '\\.')} lapsed: it was \\d+(\\.\\d)?s old when the workflow got to act, past checkpoints\\.switch-traffic\\.expiresAfter \\(2s\\)$`,
        ),
      );
      expect(vipCalls(rec)).toEqual([]);
      // approved again and acted on at once: it holds
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'carol' }] });
      await handle.result();
      expect(vipCalls(rec).length).toBeGreaterThan(0);
    });
  }, 180_000);

  it('decommission: the inventory is part of the evidence; a VIP holder change since the approval holds it', async () => {
    const plan = testPlan({ cluster: uniqueCluster('evd'), gates: ['decommission'] });
    const ref = { ref: 'ConfigMap/kube-public/cluster-info:kubeconfig', names: ['10.200.20.11'], line: 'server: https://10.200.20.11:6443' };
    await scenario(
      plan,
      { inventory: () => [ref], evidence: (n, _g, p) => ({ holders: n >= 2 ? [p.newMasters[1]?.name ?? '?'] : [p.newMasters[0]?.name ?? '?'] }) },
      async (rec) => {
        const handle = client.workflow.getHandle(workflowIdFor(plan.cluster));
        const first = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'decommission', 'decommission checkpoint');
        expect(first.pendingCheckpoint?.evidence?.facts.inventory).toEqual([ref.ref]);
        await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'erin', ack: [ref.ref] }] });
        const held = await waitStatus(plan, (s) => s.pendingCheckpoint?.reapproval !== undefined, 'decommission pending again');
        expect(held.pendingCheckpoint?.reapproval?.changes).toEqual([`VIP ${plan.loadBalancer.vip} was held by master-1, now by master-2`]);
        expect(held.pendingCheckpoint?.toAcknowledge ?? []).toEqual([]);
        expect(held.pendingCheckpoint?.details).toContain(`acknowledged ${ref.ref}: names 10.200.20.11 — ${ref.line}`);
        expect(rec.calls.filter((c) => c.name === 'etcdRemoveMember')).toEqual([]);
        // the ack was kept: approve again without it
        await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'erin' }] });
        await handle.result();
        expect(rec.calls.filter((c) => c.name === 'etcdRemoveMember').length).toBeGreaterThan(0);
        expect(rec.evidenceReads()).toBe(3);
      },
    );
  }, 180_000);

  it('cpmigrate approve sends the pending digest; --evidence with the digest read before the change exits 6', async () => {
    const plan = testPlan({ cluster: uniqueCluster('evcli'), gates: ['switch-traffic'] });
    await scenario(plan, { evidence: (n, gate, p) => (gate === 'switch-traffic' && n >= 2 ? { health: oldmaster2Down(p) } : undefined) }, async () => {
      const id = workflowIdFor(plan.cluster);
      const first = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic checkpoint');
      const seen = first.pendingCheckpoint?.evidence?.digest ?? '';
      const ok = await cli(['approve', id, 'switch-traffic', '--output', 'json']);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ gate: 'switch-traffic', by: 'tester', evidenceDigest: seen });
      const held = await waitStatus(plan, (s) => s.pendingCheckpoint?.reapproval !== undefined, 'held');
      const stale = await cli(['approve', id, 'switch-traffic', '--evidence', seen.slice(0, 12)]);
      expect(stale.code).toBe(6);
      expect(stale.stderr).toContain(
        `rejected: the evidence of checkpoint "switch-traffic" is not the one approved: approved ${seen.slice(0, 12)}, it is ${held.pendingCheckpoint?.evidence?.digest.slice(0, 12)} now`,
      );
      const status = await cli(['status', id]);
      expect(status.stdout).toContain('changed: etcd member oldmaster-2 was healthy, now unhealthy');
      expect((await cli(['approve', id, 'switch-traffic'])).stdout).toContain(`evidence ${held.pendingCheckpoint?.evidence?.digest.slice(0, 12)}`);
      await client.workflow.getHandle(id).result();
    });
  }, 240_000);
});
