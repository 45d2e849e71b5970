/**
 * The decommission checkpoint with the inventory of references to old masters
 * (src/workflows/inventory.ts), on a real Temporal dev server with recording
 * activity doubles (the inventory activity itself: test/inventory.test.ts):
 * its details list every reference; decommission refuses while one is neither
 * fixed nor acknowledged (the approval is revoked, status says why, nothing of
 * decommission runs); `--ack` or a fix lets it go on.
 */
import { describe, expect, it } from 'vitest';
import type { OldMasterRef } from '../src/lib/old-master-refs';
import type { Plan } from '../src/plan/schema';
import { approveUpdate, statusQuery, workflowIdFor, type MigrationStatus } from '../src/shared';
import { testPlan, uniqueCluster } from './support/plans';
import { recordingActivities, type RecordingOptions } from './support/recording-activities';
import { workflowTestEnv } from './support/temporal';

const env = workflowTestEnv();
/** the decommission checkpoint comes after the whole migration: a longer bound than the env's */
const waitStatus = (plan: Plan, pred: (s: MigrationStatus) => boolean, what: string) => env.waitStatus(plan, pred, what, 60_000);

const CLUSTER_INFO: OldMasterRef = { ref: 'ConfigMap/kube-public/cluster-info:kubeconfig', names: ['10.200.20.11'], line: 'server: https://10.200.20.11:6443' };
const KUBERNETES: OldMasterRef = {
  ref: 'Endpoints/default/kubernetes',
  names: ['10.200.20.11', '10.200.20.12'],
  line: '10.200.20.11',
  expected: 'each old kube-apiserver removes itself',
};

async function scenario(opts: RecordingOptions, body: (plan: Plan, r: ReturnType<typeof recordingActivities>) => Promise<void>): Promise<void> {
  const plan = testPlan({ cluster: uniqueCluster('inv'), gates: ['decommission'] });
  await env.withWorker(opts, async (_calls, rec) => {
    await env.start(plan);
    await body(plan, rec);
  });
}

/** what decommission-old does (the old keepalived are stopped earlier, by vip-failover) */
const decommissionCalls = (rec: ReturnType<typeof recordingActivities>) =>
  rec.calls.filter(
    (c) =>
      c.name === 'etcdRemoveMember' ||
      c.name === 'fenceOldMaster' ||
      (c.name === 'stopComponent' && String(c.args[0]).startsWith('oldmaster') && c.args[1] !== 'keepalived'),
  );

describe('the decommission checkpoint and the inventory of references to old masters', () => {
  it('lists every reference; refuses an approval that leaves one unacknowledged (nothing of decommission runs); --ack lets it go on', async () => {
    await scenario({ inventory: () => [CLUSTER_INFO, KUBERNETES] }, async (plan, rec) => {
      const handle = env.client.workflow.getHandle(workflowIdFor(plan.cluster));
      const pending = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'decommission', 'decommission checkpoint');
      expect(pending.pendingCheckpoint?.details).toEqual([
        'FIX OR ACK ConfigMap/kube-public/cluster-info:kubeconfig: names 10.200.20.11 — server: https://10.200.20.11:6443',
        'expected Endpoints/default/kubernetes: names 10.200.20.11, 10.200.20.12 — 10.200.20.11 (expected: each old kube-apiserver removes itself)',
        `decommission waits until each of these is fixed or acknowledged: npx cpmigrate approve ${workflowIdFor(plan.cluster)} decommission --ack 'ConfigMap/kube-public/cluster-info:kubeconfig'`,
      ]);
      expect(pending.pendingCheckpoint?.toAcknowledge).toEqual([CLUSTER_INFO.ref]);
      expect(rec.inventoryReads()).toBe(1);

      // an approval without the ack: read again, refused, the checkpoint waits again
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'erin' }] });
      const again = await waitStatus(
        plan,
        (s) => s.pendingCheckpoint?.gate === 'decommission' && (s.ignoredApprovalCount ?? 0) >= 1,
        'the checkpoint pending again',
      );
      expect(again.approvals.filter((a) => a.gate === 'decommission')).toEqual([]);
      expect(again.ignoredApprovals?.at(-1)).toMatchObject({
        gate: 'decommission',
        by: 'erin',
        early: false,
        why: 'decommission refused: 1 reference(s) to old masters neither fixed nor acknowledged: ConfigMap/kube-public/cluster-info:kubeconfig; fix them or approve again with --ack for each',
      });
      expect(rec.inventoryReads()).toBe(2);
      expect(decommissionCalls(rec)).toEqual([]);

      // with the ack: read again, go on
      const recd = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'erin', ack: [CLUSTER_INFO.ref] }] });
      expect(recd.ack).toEqual([CLUSTER_INFO.ref]);
      await handle.result();
      const done = await handle.query(statusQuery);
      expect(done.completed.find((s) => s.key === 'checkpoint/decommission')?.summary).toMatch(
        /^approved by erin; 2 reference\(s\) to old masters; acknowledged: ConfigMap\/kube-public\/cluster-info:kubeconfig; evidence [0-9a-f]{12}: .* \(unchanged when acting\)$/,
      );
      expect(rec.inventoryReads()).toBe(3);
      expect(decommissionCalls(rec).length).toBeGreaterThan(0);
    });
  }, 180_000);

  it('a reference fixed while the checkpoint waits needs no ack: the second read finds it gone', async () => {
    await scenario({ inventory: (n) => (n === 1 ? [CLUSTER_INFO] : []) }, async (plan, rec) => {
      const handle = env.client.workflow.getHandle(workflowIdFor(plan.cluster));
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'decommission', 'decommission checkpoint');
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'frank' }] });
      await handle.result();
      expect(rec.inventoryReads()).toBe(2);
      expect((await handle.query(statusQuery)).ignoredApprovalCount).toBeUndefined();
    });
  }, 180_000);

  it('a malformed ack is rejected by the update validator', async () => {
    await scenario({ inventory: () => [] }, async (plan) => {
      const handle = env.client.workflow.getHandle(workflowIdFor(plan.cluster));
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'decommission', 'decommission checkpoint');
      const err = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', ack: [42 as unknown as string] }] }).catch((e: unknown) => e);
      expect(String(((err as Error).cause as Error | undefined)?.message ?? err)).toMatch(/"ack" must be a list of reference ids/);
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'gina' }] });
      await handle.result();
    });
  }, 180_000);
});
