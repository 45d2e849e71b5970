/**
 * Plan validation at the edge: every malformed plan gives its specific
 * message and exit code, and `cpmigrate start` with it starts no workflow.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePlan } from '../src/plan/load';
import { migrationSteps } from '../src/plan/steps';
import { planSchema } from '../src/plan/schema';
import { WORKFLOW_TYPE } from '../src/shared';
import { examplePlanInput, EXAMPLE_PLAN } from './support/plans';
import { startDevServer, type DevServer } from './support/temporal';

const exec = promisify(execFile);
const CLI = path.join(__dirname, '..', 'bin', 'cpmigrate.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-plan-'));
let server: DevServer;

beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await server?.stop();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: server.address, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

type Mutator = (p: Record<string, any>) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

function writePlan(name: string, mutate: Mutator | string): string {
  const file = path.join(dir, name);
  if (typeof mutate === 'string') writeFileSync(file, mutate);
  else {
    const p = structuredClone(examplePlanInput()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const out = mutate(p) ?? p;
    writeFileSync(file, stringify(out));
  }
  return file;
}

const cases: Array<{ name: string; mutate: Mutator | string | null; code: number; expect: RegExp[] }> = [
  { name: 'missing field', mutate: (p) => void delete p.kubeconfig, code: 2, expect: [/kubeconfig: required field is missing/] },
  { name: 'wrong type', mutate: (p) => void (p.loadBalancer.port = 'https'), code: 2, expect: [/loadBalancer\.port: .*number/i] },
  {
    name: 'unknown key',
    mutate: (p) => void (p.oldMasters[0].adress = '1.2.3.4'),
    code: 2,
    expect: [/oldMasters\[0\]\.adress: unknown field/, /check its spelling/],
  },
  {
    name: 'duplicate host',
    mutate: (p) => void (p.newMasters[2] = { ...p.newMasters[2], name: 'master-1' }),
    code: 2,
    expect: [/newMasters\[2\]\.name: duplicate host name "master-1" \(also newMasters\[0\]\)/],
  },
  {
    name: '2 new masters',
    mutate: (p) => void p.newMasters.pop(),
    code: 2,
    expect: [/newMasters: the final etcd has 2 members: it tolerates 0 failure\(s\), as 1 members would/, /set allowEvenMembers: true/],
  },
  { name: 'unknown strategy', mutate: (p) => void (p.strategy = 'fast'), code: 2, expect: [/strategy: must be one of grow-then-shrink, rolling/] },
  {
    name: 'state not active or failed',
    mutate: (p) => void (p.oldMasters[0].state = 'dead'),
    code: 2,
    expect: [/oldMasters\[0\]\.state: must be active or failed/],
  },
  {
    name: 'a new master marked failed',
    mutate: (p) => void (p.newMasters[0].state = 'failed'),
    code: 2,
    expect: [/newMasters\[0\]\.state: only an old master can be marked/],
  },
  {
    name: 'a failed master kept',
    mutate: (p) => void ((p.oldMasters[2].state = 'failed'), (p.newMasters[2] = { ...p.oldMasters[2], state: undefined })),
    code: 2,
    expect: [/oldmaster-3 is marked failed in oldMasters and also listed as a new master/],
  },
  {
    name: 'a kept host with another address',
    mutate: (p) => void (p.newMasters[0] = { ...p.oldMasters[0], address: '10.200.20.150' }),
    code: 2,
    expect: [/newMasters\[0\]\.address: oldmaster-1 is kept \(also in oldMasters\) but its address differs/],
  },
  {
    name: '8 old masters',
    mutate: (p) =>
      void p.oldMasters.push(
        ...[4, 5, 6, 7, 8].map((i) => ({
          ...p.oldMasters[0],
          name: `oldmaster-${i}`,
          address: `10.200.20.${10 + i}`,
          etcd: { name: `oldmaster-${i}`, clientURL: `http://10.200.20.${10 + i}:2379`, peerURL: `http://10.200.20.${10 + i}:2380` },
        })),
      ),
    code: 2,
    expect: [/oldMasters: 8 hosts: a control plane has 1 to 7 masters/],
  },
  {
    name: '3 → 1 not accepted',
    mutate: (p) => void p.newMasters.splice(1),
    code: 2,
    expect: [
      /acceptToleranceDrop: 2 step\(s\) tolerate fewer failures than the starting cluster \(1\): down to 0 \(remove oldmaster-2 → 2 members, remove oldmaster-3 → 1 members\)/,
    ],
  },
  {
    name: 'keepalived.onOldMasters false with 3 old',
    mutate: (p) => void (p.keepalived.onOldMasters = false),
    code: 2,
    expect: [/keepalived\.onOldMasters: false is for a single old master/],
  },
  {
    name: 'VIP equal to a host',
    mutate: (p) => void (p.loadBalancer.vip = '10.200.20.102'),
    code: 2,
    expect: [/loadBalancer\.vip: VIP 10\.200\.20\.102 equals the address of newMasters\[1\]/],
  },
  {
    name: 'peer URL not on the host address',
    mutate: (p) => void (p.newMasters[0].etcd.peerURL = 'http://10.200.20.199:2380'),
    code: 2,
    expect: [/newMasters\[0\]\.etcd\.peerURL: host "10\.200\.20\.199" does not match the host address 10\.200\.20\.101/],
  },
  {
    name: 'address reused',
    mutate: (p) => void (p.newMasters[1].address = p.oldMasters[1].address),
    code: 2,
    expect: [/newMasters\[1\]\.address: address 10\.200\.20\.12 is reused/],
  },
  {
    name: 'malformed taint',
    mutate: (p) => void (p.nodes = { isolationTaint: 'test-only=true' }),
    code: 2,
    expect: [/nodes\.isolationTaint: "test-only=true" is not a taint key\[=value\]:Effect/],
  },
  {
    name: 'drain longer than the activity timeout',
    mutate: (p) => void ((p.nodes = { drainTimeout: '2h' }), (p.timeouts = { long: '1h' })),
    code: 2,
    expect: [/nodes\.drainTimeout: 2h is longer than timeouts\.long \(1h\)/],
  },
  { name: 'invalid YAML', mutate: 'apiVersion: cpmigrate/v1\nkind: [unclosed\n  cluster: x\n', code: 4, expect: [/invalid YAML\/JSON at line \d+/] },
  { name: 'unreadable file', mutate: null, code: 3, expect: [/cannot read plan file/] },
];

describe('plan validation', () => {
  it('accepts the shipped example plans (YAML and JSON)', async () => {
    const r = await cli(['plan', 'validate', EXAMPLE_PLAN]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('is valid: cluster test-bj');
    const j = await cli(['plan', 'validate', path.join(path.dirname(EXAMPLE_PLAN), 'plan-kubeadm-tls.json')]);
    expect(j.code).toBe(0);
    expect(j.stdout).toContain('is valid: cluster prod-sh');
  });

  it('reports every problem at once, not just the first', () => {
    const p = structuredClone(examplePlanInput()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    delete p.kubeconfig;
    p.loadBalancer.port = 'x';
    p.oldMasters[0].address = 'not-an-ip';
    const r = validatePlan(p);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path).sort()).toEqual(['kubeconfig', 'loadBalancer.port', 'oldMasters[0].address']);
  });

  for (const c of cases) {
    it(`bad plan: ${c.name} → exit ${c.code}, specific message, no workflow started`, async () => {
      const file = c.mutate === null ? path.join(dir, 'does-not-exist.yaml') : writePlan(`${c.name.replace(/\W+/g, '-')}.yaml`, c.mutate);
      if (c.mutate === null) {
        writeFileSync(path.join(dir, 'unreadable.yaml'), 'x');
        chmodSync(path.join(dir, 'unreadable.yaml'), 0o000);
      }
      const v = await cli(['plan', 'validate', file]);
      expect(v.code).toBe(c.code);
      for (const re of c.expect) expect(v.stderr).toMatch(re);
      const s = await cli(['start', file]);
      expect(s.code).toBe(c.code);
      for (const re of c.expect) expect(s.stderr).toMatch(re);
    });
  }

  it('no bad plan started a workflow', async () => {
    const client = await server.client();
    const found: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) found.push(w.workflowId);
    expect(found).toEqual([]);
  });

  it('--output json lists issues with paths', async () => {
    const file = writePlan('json.yaml', (p) => void p.newMasters.pop());
    const r = await cli(['plan', 'validate', '--output', 'json', file]);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout) as { valid: boolean; issues: Array<{ path: string }> };
    expect(j.valid).toBe(false);
    expect(j.issues.map((i) => i.path)).toContain('newMasters');
  });

  it('plan show lists exactly the steps the workflow runs, with quorum after each membership change', async () => {
    const r = await cli(['plan', 'show', '--output', 'json', EXAMPLE_PLAN]);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as { steps: Array<{ key: string }> };
    const plan = planSchema.parse(examplePlanInput());
    expect(shown.steps.map((s) => s.key)).toEqual(migrationSteps(plan).map((s) => s.key));
    const text = await cli(['plan', 'show', EXAMPLE_PLAN]);
    expect(text.stdout).toContain('etcd after: 6 voters');
    expect(text.stdout).toContain('point of no return');
    expect(text.stdout).toMatch(/strategy grow-then-shrink \(default for 3 → 3: the runbook's\); peak 6 etcd members/);
    expect(text.stdout).toContain('start:  3 voters [oldmaster-1, oldmaster-2, oldmaster-3], quorum 2, tolerates 1 failure(s)');
  });

  it('plan show explains other shapes: a failed master replaced (kept hosts untouched), rolling, an accepted tolerance drop', async () => {
    const failed = writePlan(
      'replace-failed.yaml',
      (p) => void ((p.oldMasters[2].state = 'failed'), (p.newMasters = [p.oldMasters[0], p.oldMasters[1], p.newMasters[0]])),
    );
    const r = await cli(['plan', 'show', failed]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kept (in both lists, untouched): oldmaster-1, oldmaster-2');
    expect(r.stdout).toMatch(/1\. remove-failed +oldmaster-3 +→ 2 voters \[oldmaster-1, oldmaster-2\], quorum 2, tolerates 0 failure\(s\)/);
    expect(r.stdout).toMatch(/2\. add +master-1 +→ 3 voters \[oldmaster-1, oldmaster-2, master-1\], quorum 2, tolerates 1 failure\(s\)/);
    const j = JSON.parse((await cli(['plan', 'show', '--output', 'json', failed])).stdout) as { steps: Array<{ key: string; host?: string }> };
    const keys = j.steps.map((s) => s.key);
    // the failed host: its member removal behind its own checkpoint, before any join, and no other step on it; the kept hosts: no step at all
    expect(keys.indexOf('checkpoint/remove-failed')).toBe(keys.indexOf('etcd-remove-failed/oldmaster-3') - 1);
    expect(keys.indexOf('etcd-remove-failed/oldmaster-3')).toBeLessThan(keys.indexOf('etcd-join/master-1'));
    expect(j.steps.filter((s) => s.host === 'oldmaster-3').map((s) => s.key)).toEqual(['etcd-remove-failed/oldmaster-3']);
    expect(j.steps.filter((s) => s.host === 'oldmaster-1' || s.host === 'oldmaster-2')).toEqual([]);
    const rolling = writePlan('rolling.yaml', (p) => void (p.strategy = 'rolling'));
    const rk = (JSON.parse((await cli(['plan', 'show', '--output', 'json', rolling])).stdout) as { steps: Array<{ key: string }> }).steps.map((s) => s.key);
    const membership = rk.filter((k) => /^(etcd-join|etcd-leave|checkpoint\/decommission)/.test(k));
    expect(membership).toEqual([
      'etcd-join/master-1',
      'checkpoint/decommission',
      'etcd-leave/oldmaster-1',
      'etcd-join/master-2',
      'etcd-leave/oldmaster-2',
      'etcd-join/master-3',
    ]);
    // the last old member leaves with its decommission, after the VIP switch
    expect(rk.indexOf('decommission-old/oldmaster-3')).toBeGreaterThan(rk.indexOf('vip-failover'));
    const drop = writePlan('three-to-one.yaml', (p) => void (p.newMasters.splice(1), (p.acceptToleranceDrop = true)));
    const d = await cli(['plan', 'show', drop]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/remove +oldmaster-3 +→ 1 voters \[master-1\], quorum 1, tolerates 0 failure\(s\) {2}⚠ below the starting cluster's 1/);
    expect(d.stderr).toMatch(/warning: acceptToleranceDrop: accepted/);
  }, 600_000);
});
