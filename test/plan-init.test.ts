/**
 * `cpmigrate plan init` against a real kube-apiserver and its real etcd:
 * control-plane nodes, etcd members and the LB address come from the live
 * cluster; what is left to fill is exactly what `plan validate` flags.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startKubeControlPlane, type KubeControlPlane } from './support/kube-control-plane';

const exec = promisify(execFile);
const CLI = path.join(__dirname, '..', 'bin', 'cpmigrate.js');
let cp: KubeControlPlane;

beforeAll(async () => {
  cp = await startKubeControlPlane({ ip: '127.0.3.9', controllerManager: false, scheduler: false });
  const core = cp.kc.makeApiClient(k8s.CoreV1Api);
  const etcdHost = new URL(cp.etcdURL).hostname;
  const nodes = [
    ['oldmaster-1', etcdHost, 'node-role.kubernetes.io/master'],
    ['oldmaster-2', '10.9.0.12', 'node-role.kubernetes.io/master'],
    ['oldmaster-3', '10.9.0.13', 'node-role.kubernetes.io/control-plane'],
    ['worker-1', '10.9.0.31', 'node-role.kubernetes.io/worker'],
  ];
  for (const [name, ip, role] of nodes) {
    const created = await core.createNode({ body: { metadata: { name, labels: { [role as string]: 'true' } } } });
    await core.replaceNodeStatus({ name: name as string, body: { ...created, status: { addresses: [{ type: 'InternalIP', address: ip as string }] } } });
  }
  await core.createNamespace({ body: { metadata: { name: 'kube-system' } } }).catch(() => undefined);
  const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.9.0.241:443\n  name: default\n';
  await core.createNamespacedConfigMap({
    namespace: 'kube-system',
    body: { metadata: { name: 'kube-proxy' }, data: { 'kubeconfig.conf': kubeconfig, 'config.conf': 'mode: iptables\n' } },
  });
});

afterAll(async () => {
  await cp?.stop();
});

describe('cpmigrate plan init', () => {
  it('drafts oldMasters, etcd and the LB from the live cluster, leaving the new masters to fill', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'cpm-init-')), 'plan.yaml');
    const r = await exec(process.execPath, [
      CLI,
      'plan',
      'init',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--etcd-endpoints',
      cp.etcdURL,
      '--cluster',
      'prod-sh',
      '--out',
      out,
    ]);
    expect(r.stderr).toContain('found 3 control-plane nodes (oldmaster-1, oldmaster-2, oldmaster-3), 1 etcd members, LB https://10.9.0.241:443');
    expect(r.stderr).toContain("no etcd member has a peer URL on oldmaster-2's address 10.9.0.12");
    const doc = parse(readFileSync(out, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(doc.cluster).toBe('prod-sh');
    expect(doc.oldMasters.map((m: { name: string }) => m.name)).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3']);
    expect(doc.oldMasters[0].etcd.clientURL).toBe(cp.etcdURL);
    expect(doc.loadBalancer).toMatchObject({ vip: '10.9.0.241', port: 443 });

    // validate: only the TODOs are reported
    const v = await exec(process.execPath, [CLI, 'plan', 'validate', '--output', 'json', out]).catch((e: { code: number; stdout: string }) => e);
    expect((v as { code: number }).code).toBe(2);
    const issues = (JSON.parse((v as { stdout: string }).stdout) as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((p) => p.startsWith('newMasters['))).toBe(true);

    // --output json: the same draft as an object, with what was found
    const j = await exec(process.execPath, [
      CLI,
      'plan',
      'init',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--etcd-endpoints',
      cp.etcdURL,
      '--cluster',
      'prod-sh',
      '--output',
      'json',
    ]);
    const drafted = JSON.parse(j.stdout) as { plan: Record<string, any>; found: { masters: string[] }; warnings: string[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(drafted.plan).toEqual(doc);
    expect(drafted.found.masters).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3']);
    expect(drafted.warnings.join('\n')).toContain("no etcd member has a peer URL on oldmaster-2's address 10.9.0.12");

    // never overwrites an existing file
    const again = await exec(process.execPath, [CLI, 'plan', 'init', '--kubeconfig', cp.kubeconfigPath, '--etcd-endpoints', cp.etcdURL, '--out', out]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((again as { code: number }).code).toBe(1);
    expect((again as { stderr: string }).stderr).toContain('exists: not overwriting it');
  });
});
