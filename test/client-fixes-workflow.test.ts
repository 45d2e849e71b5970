/**
 * The client-fixes checkpoint and step in the workflow (real Temporal dev
 * server, recording activity doubles): off by default, preflight's client
 * problems stop the migration with the fix; on, they wait for one approval
 * that lists every change, then are applied kube-proxy first and one kubelet
 * at a time (restart, Node Ready, next); rollback restores them newest first.
 */
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { ClientFix } from '../src/plan/client-fix';
import { planSchema, type Plan } from '../src/plan/schema';
import { migrationSteps } from '../src/plan/steps';
import { abortSignal, approveUpdate, statusQuery } from '../src/shared';
import { type Call } from './support/recording-activities';
import { testPlan, uniqueCluster } from './support/plans';
import { workflowTestEnv } from './support/temporal';

const env = workflowTestEnv();
const { withWorker, start, waitStatus } = env;

const LB = 'https://10.200.20.241:443';
const OLD = 'https://10.200.20.11:8686';
const FIXES: ClientFix[] = [
  { kind: 'kubelet', node: 'worker-3', address: '10.200.20.33', planHost: false, file: '/etc/kubernetes/kubelet.conf', from: OLD, to: LB },
  { kind: 'kubelet', node: 'worker-2', address: '10.200.20.32', planHost: false, file: '/etc/kubernetes/kubelet.conf', from: OLD, to: LB },
  { kind: 'kube-proxy', namespace: 'kube-system', configMap: 'kube-proxy', key: 'kubeconfig.conf', daemonSet: 'kube-proxy', from: OLD, to: LB },
];

function planWith(cluster: string, opts: { clientFixes: boolean; gates?: Array<'preflight-ack' | 'switch-traffic'> }): Plan {
  const base = testPlan({ cluster: uniqueCluster(cluster), gates: opts.gates ?? [] });
  return planSchema.parse({
    ...base,
    checkpoints: { ...base.checkpoints, 'client-fixes': { enabled: opts.clientFixes, remindAfter: '30m' } },
    clients: { ...base.clients, userKubeconfigs: ['ci-bot: /home/ci/.kube/config', 'team-a laptops (wiki/KUBE-12)'] },
  });
}

const names = (calls: Call[]) => calls.map((c) => `${c.name}${typeof c.args[0] === 'string' ? ` ${c.args[0]}` : ''}`);

describe('client-fixes', () => {
  it('off (the default): preflight client problems stop the migration before any change, with the fix', async () => {
    const plan = planWith('cf-off', { clientFixes: false });
    expect(migrationSteps(plan).some((s) => s.key.includes('client-fixes'))).toBe(false);
    await withWorker({ clientFixes: FIXES }, async (calls) => {
      const err = await (await start(plan)).result().catch((e: unknown) => e);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('PreflightFailedError');
      expect(cause.message).toContain('preflight found 3 blocker(s)');
      expect(cause.message).toContain(`fix: worker-2: /etc/kubernetes/kubelet.conf server ${OLD} → ${LB}`);
      expect(names(calls)).toEqual(['preflight']);
    });
  });

  it('on: one approval that lists every change, then kube-proxy, then one kubelet at a time (restart, Ready), every change in the summary', async () => {
    const plan = planWith('cf-on', { clientFixes: true, gates: ['preflight-ack'] });
    await withWorker({ clientFixes: FIXES }, async (calls) => {
      const handle = await start(plan);
      const s = await waitStatus(plan, (x) => x.pendingCheckpoint?.gate === 'client-fixes', 'client-fixes checkpoint');
      expect(s.completed.map((r) => r.key)).toEqual(['preflight']);
      expect(s.completed[0]?.summary).toMatch(
        /3 client fix\(es\) for the client-fixes checkpoint; kubelets checked on 7 node\(s\) \(1 found through the API\)/,
      );
      expect(s.pendingCheckpoint?.details).toEqual([
        `worker-3: /etc/kubernetes/kubelet.conf server ${OLD} → ${LB} (atomic rewrite, backup kept), restart kubelet, wait until Node worker-3 is Ready`,
        `worker-2: /etc/kubernetes/kubelet.conf server ${OLD} → ${LB} (atomic rewrite, backup kept), restart kubelet, wait until Node worker-2 is Ready`,
        `ConfigMap kube-system/kube-proxy (kubeconfig.conf) server ${OLD} → ${LB}, rollout restart DaemonSet kube-system/kube-proxy`,
      ]);
      expect(names(calls)).toEqual(['preflight']); // nothing applied before the approval
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'client-fixes', by: 'alice', reason: 'CHG-11' }] });
      const ack = await waitStatus(plan, (x) => x.pendingCheckpoint?.gate === 'preflight-ack', 'preflight-ack checkpoint');
      expect(ack.pendingCheckpoint?.details).toEqual([
        `confirm this user kubeconfig uses https://10.200.20.241:443: ci-bot: /home/ci/.kube/config`,
        `confirm this user kubeconfig uses https://10.200.20.241:443: team-a laptops (wiki/KUBE-12)`,
      ]);
      const fixed = ack.completed.find((r) => r.key === 'client-fixes');
      expect(fixed?.summary).toMatch(
        /^3 client fix\(es\): kube-proxy\/kube-system\/kube-proxy: .*\| kubelet\/worker-2: .*Node worker-2 Ready \| kubelet\/worker-3: /,
      );
      expect(names(calls)).toEqual([
        'preflight',
        'applyClientFix kube-proxy/kube-system/kube-proxy',
        'restartClient kube-proxy/kube-system/kube-proxy',
        'applyClientFix kubelet/worker-2',
        'restartClient kubelet/worker-2',
        'waitNodeReady worker-2',
        'applyClientFix kubelet/worker-3',
        'restartClient kubelet/worker-3',
        'waitNodeReady worker-3',
      ]);
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'preflight-ack', by: 'alice' }] });
      const result = await handle.result();
      expect(result.steps).toBe(migrationSteps(plan).length);
      expect((result.approvals as Array<{ gate: string }>).map((a) => a.gate)).toEqual(['client-fixes', 'preflight-ack']);
    });
  });

  it('on, with nothing to fix: the checkpoint passes by itself and says so', async () => {
    const plan = planWith('cf-none', { clientFixes: true });
    await withWorker({}, async (calls) => {
      const handle = await start(plan);
      await handle.result();
      const s = await handle.query(statusQuery);
      expect(s.completed.find((r) => r.key === 'checkpoint/client-fixes')?.summary).toBe('nothing to fix: every client already uses the LB');
      expect(s.completed.find((r) => r.key === 'client-fixes')?.summary).toMatch(/^nothing to fix/);
      expect(s.approvals).toEqual([]);
      expect(calls.some((c) => c.name === 'applyClientFix')).toBe(false);
    });
  });

  it('abort --rollback restores the client fixes newest first (after everything else)', async () => {
    const plan = planWith('cf-rollback', { clientFixes: true, gates: ['preflight-ack'] });
    await withWorker({ clientFixes: FIXES }, async (calls) => {
      const handle = await start(plan);
      await waitStatus(plan, (x) => x.pendingCheckpoint?.gate === 'client-fixes', 'client-fixes checkpoint');
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'client-fixes', by: 'alice' }] });
      await waitStatus(plan, (x) => x.pendingCheckpoint?.gate === 'preflight-ack', 'preflight-ack checkpoint');
      const before = calls.length;
      await handle.signal(abortSignal, { reason: 'rehearsal', by: 'bob', rollback: true });
      const err = await handle.result().catch((e: unknown) => e);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toContain('rolled back 1 step(s): client-fixes');
      expect(names(calls.slice(before))).toEqual([
        'revertClientFix kubelet/worker-3',
        'waitNodeReady worker-3',
        'revertClientFix kubelet/worker-2',
        'waitNodeReady worker-2',
        'revertClientFix kube-proxy/kube-system/kube-proxy',
      ]);
    });
  });
});
