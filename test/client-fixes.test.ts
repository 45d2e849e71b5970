/**
 * The client-fix activities against a real sshd: kubelet.conf rewritten
 * atomically (only the server line, backup kept, mode and owner kept),
 * idempotent, refused when the file changed since preflight; the kubelet
 * restarted through the plan's service and its Node awaited until Ready with a
 * new heartbeat; the compensation restores the backup. Needs root (sshd).
 */
import { mkdir, readFile, readdir, stat, writeFile, chown } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientFixActivities } from '../src/activities/client-fixes';
import type { KubeClientActivities, NodeReadiness } from '../src/activities/kube-clients';
import { PlanMismatchError } from '../src/errors';
import { SshHostOps } from '../src/lib/ssh';
import type { KubeletFix } from '../src/plan/client-fix';
import { planSchema, type Plan } from '../src/plan/schema';
import { startSshd, testPlanDoc, type TestSshd } from './support/sshd';

const isRoot = process.getuid?.() === 0;
let sshd: TestSshd;
let plan: Plan;
let dir: string;
const ops = new SshHostOps();
const OLD = 'https://127.0.5.11:6443';
const LB = 'https://127.0.2.20:443';
const kubeconfig = (server: string) =>
  `apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: QUJD\n    server: ${server}\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\nkind: Config\nusers:\n- name: default-auth\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n`;

/** A Node whose Ready heartbeat moves on each time the restart log grows (the test's stand-in kubelet). */
function kubeDouble(restartLog: () => Promise<number>): KubeClientActivities {
  return {
    listNodes: async () => [],
    readKubeProxyKubeconfig: async () => ({ key: 'kubeconfig.conf', server: LB }),
    patchKubeProxyServer: async () => ({ changed: false }),
    readNodeReadiness: async (): Promise<NodeReadiness> => {
      const n = await restartLog();
      return { ready: true, heartbeat: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(), message: `kubelet started ${n} time(s)` };
    },
  };
}

describe.skipIf(!isRoot)('client-fix activities over real SSH', () => {
  let file: string;
  let log: string;
  const restarts = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l === 'start').length;

  beforeAll(async () => {
    sshd = await startSshd({ address: '127.0.5.1', extraAddresses: ['127.0.5.11'], name: 'worker-2' });
    dir = path.join(sshd.dir, 'host');
    await mkdir(path.join(dir, 'etc'), { recursive: true });
    file = path.join(dir, 'etc', 'kubelet.conf');
    log = path.join(dir, 'kubelet.log');
    const h = (name: string, last: number) => ({ name, address: `127.0.5.${last}` });
    plan = planSchema.parse({
      ...testPlanDoc({
        oldMasters: [h('oldmaster-1', 11), h('oldmaster-2', 12), h('oldmaster-3', 13)],
        newMasters: [h('master-1', 21), h('master-2', 22), h('master-3', 23)],
        defaultsSsh: { port: sshd.port, hostKeyFingerprint: sshd.fingerprint, privateKeyPath: sshd.clientKeyPath },
      }),
      paths: { kubeletKubeconfig: file, schedulerKubeconfig: path.join(dir, 'etc', 'scheduler.conf') },
      clients: { kubelet: { service: { type: 'commands', start: `echo start >> ${log}`, stop: `echo stop >> ${log}`, status: 'true' }, readyTimeout: '10s' } },
    });
  });

  afterAll(async () => {
    await ops.close();
    await sshd?.stop();
  });

  it('rewrites kubelet.conf atomically (backup, mode, owner kept), restarts the kubelet, waits for Ready; then undoes it', async () => {
    await writeFile(file, kubeconfig(OLD), { mode: 0o600 });
    await chown(file, 65534, 65534);
    const before = await stat(file);
    const fix: KubeletFix = { kind: 'kubelet', node: 'worker-2', address: '127.0.5.1', planHost: false, file, from: OLD, to: LB };
    const a = createClientFixActivities({ hostOps: () => ops, kubeClients: kubeDouble(restarts), pollMs: 50 });

    const applied = await a.applyClientFix(plan, fix);
    expect(applied.changed).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(kubeconfig(LB));
    const after = await stat(file);
    expect(after.ino).not.toBe(before.ino); // renamed over, not written in place
    expect([after.mode & 0o7777, after.uid, after.gid]).toEqual([0o600, 65534, 65534]);
    const backups = (await readdir(path.dirname(file))).filter((f) => f.startsWith('kubelet.conf.cpmigrate-bak-'));
    expect(backups).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(file), backups[0] as string), 'utf8')).toBe(kubeconfig(OLD));
    expect(applied.summary).toContain(`server ${OLD} → ${LB} (backup ${file}.cpmigrate-bak-`);

    // idempotent: a second run changes nothing
    expect((await a.applyClientFix(plan, fix)).changed).toBe(false);

    const restarted = await a.restartClient(plan, fix, 't1');
    expect(await readFile(log, 'utf8')).toBe('stop\nstart\n');
    expect(restarted.heartbeatBefore).toBe('2026-01-01T00:00:00.000Z');
    const ready = await a.waitNodeReady(plan, 'worker-2', restarted.heartbeatBefore);
    expect(ready.summary).toMatch(/^Node worker-2 Ready again after .* \(kubelet started 1 time\(s\)\)$/);

    // the compensation: the backup back in place (mode/owner kept), kubelet restarted again
    const reverted = await a.revertClientFix(plan, fix, 'rollback');
    expect(reverted.changed).toBe(true);
    expect(await readFile(file, 'utf8')).toBe(kubeconfig(OLD));
    const back = await stat(file);
    expect([back.mode & 0o7777, back.uid, back.gid]).toEqual([0o600, 65534, 65534]);
    expect(await restarts()).toBe(2);
    expect((await a.revertClientFix(plan, fix, 'rollback')).changed).toBe(false); // nothing left to undo
  });

  it("points an old master's scheduler kubeconfig at its own apiserver and restarts it through the plan's scheduler service", async () => {
    const sched = plan.paths.schedulerKubeconfig;
    await writeFile(sched, kubeconfig(LB), { mode: 0o600 });
    const to = 'https://127.0.5.11:6443';
    const fix = {
      kind: 'controlplane' as const,
      component: 'scheduler' as const,
      node: 'oldmaster-1',
      address: '127.0.5.11',
      planHost: true,
      file: sched,
      from: LB,
      to,
    };
    const a = createClientFixActivities({ hostOps: () => ops, kubeClients: kubeDouble(restarts) });
    expect((await a.applyClientFix(plan, fix)).summary).toContain(`scheduler/oldmaster-1: ${sched} server ${LB} → ${to}`);
    expect(await readFile(sched, 'utf8')).toBe(kubeconfig(to));
    const r = await a.restartClient(plan, fix, 't');
    expect(r.summary).toBe('kube-scheduler restarted on oldmaster-1 ((echo stop scheduler) && (echo start scheduler))');
    expect(r.heartbeatBefore).toBeUndefined();
  });

  it('refuses to overwrite a kubeconfig that changed since preflight (points at neither FROM nor TO)', async () => {
    await writeFile(file, kubeconfig('https://127.0.5.99:6443'), { mode: 0o600 });
    const fix: KubeletFix = { kind: 'kubelet', node: 'worker-2', address: '127.0.5.1', planHost: false, file, from: OLD, to: LB };
    const a = createClientFixActivities({ hostOps: () => ops, kubeClients: kubeDouble(restarts) });
    await expect(a.applyClientFix(plan, fix)).rejects.toBeInstanceOf(PlanMismatchError);
    expect(await readFile(file, 'utf8')).toBe(kubeconfig('https://127.0.5.99:6443'));
  });

  it('waitNodeReady fails (retryably) when the Node does not come back within clients.kubelet.readyTimeout', async () => {
    const stuck: KubeClientActivities = {
      ...kubeDouble(restarts),
      readNodeReadiness: async () => ({ ready: false, heartbeat: '2026-01-01T00:00:00.000Z', reason: 'KubeletNotReady', message: 'PLEG is not healthy' }),
    };
    const short = planSchema.parse({ ...plan, clients: { ...plan.clients, kubelet: { ...plan.clients.kubelet, readyTimeout: '1s' } } });
    const a = createClientFixActivities({ hostOps: () => ops, kubeClients: stuck, pollMs: 100 });
    await expect(a.waitNodeReady(short, 'worker-2', '2026-01-01T00:00:00.000Z')).rejects.toThrow(
      /Node worker-2 not Ready with a new heartbeat 1(\.0)?s after its kubelet restarted: KubeletNotReady PLEG is not healthy/,
    );
  });
});
