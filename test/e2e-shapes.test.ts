/**
 * Shapes other than the runbook's, on the lab (src/chaos/shapes.ts): 3 → 3
 * rolling and the replacement of a failed master, each unattended with the
 * probe and the safety monitor. `npm run e2e:shapes` runs every shape.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { labDown } from '../src/lab/cli';
import { runScenario } from '../src/chaos/cli';
import { shapeScenario } from '../src/chaos/shapes';
import { failuresAfterRetry } from '../src/demo/probe';

afterAll(async () => {
  await labDown();
}, 120_000);

describe('other shapes on the lab', () => {
  it(
    '3 → 3 rolling: one in, one out, never more than 4 members',
    async () => {
      const { assessment, report, demo } = await runScenario(shapeScenario('shape-3-3-rolling'), (l) => console.log(l));
      console.log(report);
      expect(assessment.problems).toEqual([]);
      expect(failuresAfterRetry(demo.probe)).toEqual([]); // zero failed writes (and reads) after one client retry
      const keys = demo.steps.map((s) => s.key);
      // one in, one out: each old member leaves right after a new one joined, before the next join; the last
      // one leaves at its decommission, after the VIP switch (the old apiservers need an old member until then)
      expect(keys.filter((k) => /^etcd-(join|leave)\//.test(k))).toEqual([
        'etcd-join/master-1',
        'etcd-leave/oldmaster-1',
        'etcd-join/master-2',
        'etcd-leave/oldmaster-2',
        'etcd-join/master-3',
      ]);
      expect(keys.indexOf('decommission-old/oldmaster-3')).toBeGreaterThan(keys.indexOf('vip-failover'));
      expect(demo.steps.find((s) => s.key === 'etcd-join/master-2')?.summary).toMatch(/4 voting members healthy/);
      expect(demo.monitor?.minQuorumMargin).toBeGreaterThanOrEqual(0);
    },
    30 * 60_000,
  );

  it(
    'replaces a failed master: its member removed first, nothing run on it, the kept two untouched',
    async () => {
      const { assessment, report, demo } = await runScenario(shapeScenario('shape-replace-failed'), (l) => console.log(l));
      console.log(report);
      expect(assessment.problems).toEqual([]);
      expect(failuresAfterRetry(demo.probe)).toEqual([]); // zero failed writes (and reads) after one client retry
      const keys = demo.steps.map((s) => s.key);
      expect(keys.indexOf('etcd-remove-failed/oldmaster-3')).toBeLessThan(keys.indexOf('etcd-join/master-1'));
      expect(keys.filter((k) => k.endsWith('/oldmaster-3'))).toEqual(['etcd-remove-failed/oldmaster-3']);
      expect(keys.filter((k) => k.endsWith('/oldmaster-1') || k.endsWith('/oldmaster-2'))).toEqual([]);
      expect(demo.steps.find((s) => s.key === 'etcd-remove-failed/oldmaster-3')?.summary).toMatch(
        /removed .*oldmaster-3.*nothing run on oldmaster-3 \(marked failed\); 2 members healthy/,
      );
      expect(demo.checks.find((c) => c.name === 'etcd has exactly the 3 new members')?.ok).toBe(true);
      for (const h of ['oldmaster-1', 'oldmaster-2']) expect(demo.checks.find((c) => c.name === `kube-apiserver still runs on the kept ${h}`)?.ok).toBe(true);
    },
    30 * 60_000,
  );
});
