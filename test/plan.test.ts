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
  { name: 'unknown key', mutate: (p) => void (p.oldMasters[0].adress = '1.2.3.4'), code: 2, expect: [/oldMasters\[0\]\.adress: unknown field/, /check its spelling/] },
  {
    name: 'duplicate host',
    mutate: (p) => void (p.newMasters[2] = { ...p.newMasters[2], name: 'master-1' }),
    code: 2,
    expect: [/newMasters\[2\]\.name: duplicate host name "master-1" \(also newMasters\[0\]\)/],
  },
  { name: '2 new masters', mutate: (p) => void p.newMasters.pop(), code: 2, expect: [/newMasters: expected exactly 3 hosts, got 2/] },
  { name: 'VIP equal to a host', mutate: (p) => void (p.loadBalancer.vip = '10.200.20.102'), code: 2, expect: [/loadBalancer\.vip: VIP 10\.200\.20\.102 equals the address of newMasters\[1\]/] },
  {
    name: 'peer URL not on the host address',
    mutate: (p) => void (p.newMasters[0].etcd.peerURL = 'http://10.200.20.199:2380'),
    code: 2,
    expect: [/newMasters\[0\]\.etcd\.peerURL: host "10\.200\.20\.199" does not match the host address 10\.200\.20\.101/],
  },
  { name: 'address reused', mutate: (p) => void (p.newMasters[1].address = p.oldMasters[1].address), code: 2, expect: [/newMasters\[1\]\.address: address 10\.200\.20\.12 is reused/] },
  { name: 'malformed taint', mutate: (p) => void (p.nodes = { isolationTaint: 'test-only=true' }), code: 2, expect: [/nodes\.isolationTaint: "test-only=true" is not a taint key\[=value\]:Effect/] },
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
  });
});
