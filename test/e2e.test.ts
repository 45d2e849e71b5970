/**
 * End to end on the lab: the demo, unattended (--yes), on real etcd, sshd,
 * kube-apiserver/controller-manager/scheduler, nginx and keepalived in network
 * namespaces, with the worker killed -9 once mid-migration. Asserts the
 * runbook's "after" state, zero objects lost, and that no completed step ran
 * twice (from the workflow's own event history). The clients start misconfigured
 * (worker-2, a Node the plan does not list, and the kube-proxy ConfigMap point at
 * oldmaster-1): the client-fixes checkpoint fixes both after its approval.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { labDown } from '../src/lab/cli';
import { renderReport, runDemo } from '../src/demo/run';
import { freePort } from './support/temporal';
import { activityHistory } from './support/history';

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'cpm-e2e-'));
let port = 0;

afterAll(async () => {
  if (port) {
    const { spawnSync } = await import('node:child_process');
    spawnSync('bash', [path.join(__dirname, '..', 'scripts', 'dev-server.sh'), 'stop'], { env: { ...process.env, TEMPORAL_PORT: String(port), CPM_STATE_DIR: stateDir } });
  }
  await labDown();
}, 120_000);

describe('the demo on the lab', () => {
  it('migrates the control plane with zero lost objects, surviving a worker kill -9', async () => {
    port = await freePort();
    const report = await runDemo({ yes: true, temporalPort: port, stateDir, killWorkerAfter: 'etcd-join/master-2', maxMinutes: 30, misconfigureClients: true, log: (l) => console.log(l) });
    console.log(renderReport(report));
    expect(report.error).toBeUndefined();
    expect(report.outcome).toBe('completed');
    expect(report.checks.length).toBeGreaterThan(10);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.probe.seeded).toBe(50);
    expect(report.probe.missingAfter).toEqual([]);
    expect(report.probe.sent).toBeGreaterThan(100);
    expect(report.workerRestarts).toHaveLength(1);
    // the runbook's first step: both misconfigured clients found (worker-2 only through the API) and fixed
    const pre = report.steps.find((s) => s.key === 'preflight');
    expect(pre?.summary).toMatch(/2 client fix\(es\) for the client-fixes checkpoint; kubelets checked on 8 node\(s\) \(1 found through the API\)/);
    const fixes = report.steps.find((s) => s.key === 'client-fixes');
    expect(fixes?.summary).toMatch(/^2 client fix\(es\): ConfigMap kube-system\/kube-proxy \(kubeconfig\.conf\) server https:\/\/198\.18\.0\.11:6443 → https:\/\/198\.18\.0\.100:443; restarted DaemonSet kube-system\/kube-proxy/);
    expect(fixes?.summary).toMatch(/kubelet\/worker-2: \/etc\/kubernetes\/kubelet\.conf server https:\/\/198\.18\.0\.11:6443 → https:\/\/198\.18\.0\.100:443 \(backup .*\); kubelet restarted; Node worker-2 Ready again .*server https:\/\/198\.18\.0\.100:443/);
    expect(report.checks.find((c) => c.name === 'no client points at an old master')?.ok).toBe(true);
    expect(report.checks.find((c) => c.name === 'every Node is Ready')?.detail).toBe('8 Nodes Ready');
    // the old masters' non-default settings are carried (src/demo/carried.ts), and the data gates ran
    for (const name of ['etcd carries the old members', 'kube-apiserver carries audit policy', 'keepalived carries chk_apiserver_lb']) {
      expect(report.checks.filter((c) => c.name.includes(name) && c.ok), name).toHaveLength(3);
    }
    expect(report.checks.find((c) => c.name === 'the Secret written before the migration still decrypts')?.ok).toBe(true);
    expect(report.checks.find((c) => c.name === 'the Secret is stored encrypted (aescbc) in the new etcd members')?.ok).toBe(true);
    const summaryOf = (key: string) => report.steps.find((s) => s.key === key)?.summary ?? '';
    expect(summaryOf('etcd-join/master-1')).toMatch(/carried \d+ settings from oldmaster-1:.*quota-backend-bytes/);
    expect(summaryOf('etcd-join/master-3')).toMatch(/HashKV agrees on 6 members at revision \d+/);
    for (const h of ['oldmaster-1', 'oldmaster-2', 'oldmaster-3']) expect(summaryOf(`decommission-old/${h}`)).toMatch(/HashKV agrees on \d members at revision \d+/);

    // From the event history: every activity call (by its summary) completed once.
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const client = new Client({ connection });
      const { completed } = await activityHistory(client, report.workflowId, report.runId);
      for (const key of ['etcdSnapshot', 'etcdJoinMember master-1', 'etcdJoinMember master-2', 'etcdJoinMember master-3', 'etcdRemoveMember oldmaster-1', 'drainNode master-1']) {
        expect(completed.get(key), key).toBe(1);
      }
      expect(completed.get('verifyVip new')).toBe(2); // before and after the old keepalived stop
      const repeatedSteps = report.steps.map((s) => s.key).filter((k, i, all) => all.indexOf(k) !== i);
      expect(repeatedSteps).toEqual([]);
    } finally {
      await connection.close();
    }
  }, 45 * 60_000);
});
