/**
 * The lab, for real (root; Debian etcd, sshd, nginx, keepalived; the kube
 * binaries from scripts/build-kube.sh): `lab up` → every host answers over SSH
 * with its pinned key, etcd has 3 healthy members, one old master holds the
 * VIP and the API answers through it, preflight is clean; then the
 * control-plane and VIP activities run on master-1 and the VIP handover is
 * measured with a probe through the VIP; `lab down` leaves nothing behind.
 *
 * Skipped when a lab is already up (it would be torn down) or without root or binaries.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertActivities } from '../src/activities/certs';
import { createClientFixActivities } from '../src/activities/client-fixes';
import { createKubeClientActivities } from '../src/activities/kube-clients';
import { Reasons } from '../src/activities/reasons';
import { standInKubelet } from '../src/lab/kubelet';
import { misconfigureClients } from '../src/lab/misconfigure';
import { orderFixes } from '../src/plan/client-fix';
import { createControlPlaneActivities } from '../src/activities/controlplane';
import { createEtcdActivities } from '../src/activities/etcd';
import { createPreflightActivities } from '../src/activities/preflight';
import { probeReadyz } from '../src/activities/readyz';
import { createVipActivities } from '../src/activities/vip';
import { labDown, labUp } from '../src/lab/cli';
import { kubeBinDirFor, kubeBinsPresent } from '../src/lab/daemons';
import { livePid } from '../src/lab/exec';
import { BRIDGE, HOSTS, LAB_DIR, VIP, paths } from '../src/lab/layout';
import { namespaces, netStatus } from '../src/lab/net';
import { SshHostOps } from '../src/lib/ssh';
import { loadPlan } from '../src/plan/load';
import { sshTargetOf } from '../src/plan/hosts';
import type { Plan } from '../src/plan/schema';
import { HostKeyMismatchError } from '../src/errors';

const isRoot = process.getuid?.() === 0;
const alreadyUp = existsSync(paths.ready);
const haveKube = kubeBinsPresent(kubeBinDirFor());
const skip = !isRoot || alreadyUp || !haveKube;
if (skip)
  console.warn(
    `[lab.test] skipped: ${!isRoot ? 'not root' : alreadyUp ? `a lab is already up (${LAB_DIR}); run \`npm run lab -- down\` first` : 'no kube binaries (scripts/build-kube.sh)'}`,
  );

/** GET /readyz through the VIP every `everyMs` until stopped: failures and the longest gap without a 200. */
function vipProbe(ca: Buffer, everyMs = 50) {
  let stop = false;
  let sent = 0;
  let failed = 0;
  let lastOk = Date.now();
  let longestGap = 0;
  const loop = (async () => {
    while (!stop) {
      const t = Date.now();
      sent++;
      const r = await probeReadyz(`${VIP}:443`, ca, undefined, 1_000);
      if (r.ok) {
        longestGap = Math.max(longestGap, Date.now() - lastOk);
        lastOk = Date.now();
      } else failed++;
      await new Promise((res) => setTimeout(res, Math.max(0, everyMs - (Date.now() - t))));
    }
  })();
  return {
    async end() {
      stop = true;
      await loop;
      return { sent, failed, longestGapMs: Math.max(longestGap, Date.now() - lastOk) };
    },
  };
}

describe.skipIf(skip)('lab', () => {
  let plan: Plan;
  const ops = new SshHostOps();
  let upMs = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    const r = await labUp({ kube: true, vrrp: 'multicast', log: (m) => console.log(`[lab] ${m}`) });
    upMs = Date.now() - t0;
    plan = await loadPlan(r.plan);
  }, 300_000);

  afterAll(async () => {
    await ops.close();
    if (!skip && existsSync(paths.ready)) await labDown();
  }, 120_000);

  it('is up, and a second `lab up` reuses it', async () => {
    console.log(`[lab.test] lab up: ${upMs} ms`);
    const again = await labUp({ kube: true, vrrp: 'multicast' });
    expect(again.reused).toBe(true);
    expect(again.plan).toBe(paths.plan);
    expect((await netStatus()).missing).toEqual([]);
  });

  it('every host answers over SSH with its pinned host key, and a wrong pin is refused', async () => {
    const hosts = [...plan.oldMasters, ...plan.newMasters, ...plan.workerNodes];
    expect(hosts.map((h) => h.name).sort()).toEqual(
      HOSTS.filter((h) => !h.unlisted)
        .map((h) => h.name)
        .sort(),
    );
    for (const h of hosts) {
      const r = await ops.run(sshTargetOf(plan, h), 'hostname; cat /etc/cpm-lab/host.env | grep ^ADDRESS=');
      expect(r.stdout).toBe(`${h.name}\nADDRESS=${h.address}\n`);
    }
    const h = plan.newMasters[0] as Plan['newMasters'][number];
    const wrong = { ...sshTargetOf(plan, h), hostKeyFingerprint: sshTargetOf(plan, plan.oldMasters[0] as typeof h).hostKeyFingerprint };
    await expect(new SshHostOps().run(wrong, 'true')).rejects.toBeInstanceOf(HostKeyMismatchError);
  });

  it('etcd has 3 healthy members on the old masters', async () => {
    const health = await createEtcdActivities({ hostOps: () => ops }).etcdHealth(plan);
    expect(health.problems).toEqual([]);
    expect(health.healthy).toBe(true);
    expect(health.members.map((m) => m.name).sort()).toEqual(plan.oldMasters.map((h) => h.name).sort());
  });

  it('one old master holds the VIP and the API answers through it; preflight is clean', async () => {
    const vip = createVipActivities({ hostOps: () => ops });
    const r = await vip.verifyVip(plan, 'old');
    expect(r.holders).toHaveLength(1);
    expect(r.readyzThroughVip).toBe(true);
    const pf = await createPreflightActivities({ hostOps: () => ops }).preflight(plan);
    expect(pf.blockers).toEqual([]);
  });

  it('a kubelet on a Node the plan does not list and the kube-proxy ConfigMap point at an old master: preflight finds both and blocks with the fix; the fixes restart the stand-in kubelet and its Node is Ready again', async () => {
    const LB = `https://${VIP}:443`;
    expect(plan.workerNodes.map((h) => h.name)).toEqual(['worker-1']); // worker-2 only through the API
    const m = await misconfigureClients();
    const kube = createKubeClientActivities();
    const waitReadyOn = async (server: string) => {
      for (let i = 0; i < 100; i++) {
        const r = await kube.readNodeReadiness(plan, 'worker-2');
        if (r.ready && r.message?.includes(`server ${server}`)) return r;
        await new Promise((res) => setTimeout(res, 200));
      }
      throw new Error(`worker-2 never Ready on ${server}`);
    };
    await waitReadyOn(m.server); // the stand-in kubelet really talks to oldmaster-1
    const before = await standInKubelet('worker-2');

    const pf = createPreflightActivities({ hostOps: () => ops });
    const r = await pf.preflight(plan);
    expect(r.blockers.map((b) => `${b.reason}:${b.subject}`).sort()).toEqual([
      `${Reasons.KubeProxyNotUsingLB}:kube-system/kube-proxy`,
      `${Reasons.KubeletNotUsingLB}:worker-2`,
    ]);
    expect(r.blockers.every((b) => b.fixable && b.fix)).toBe(true);
    expect(r.nodes).toEqual({ checked: 8, fromApi: 1, unverified: [] });
    expect(r.clientFixes?.map((f) => `${f.kind} ${f.from} → ${f.to}`).sort()).toEqual([`kube-proxy ${m.server} → ${LB}`, `kubelet ${m.server} → ${LB}`]);

    const fx = createClientFixActivities({ hostOps: () => ops, pollMs: 200 });
    const t0 = Date.now();
    for (const f of orderFixes(r.clientFixes ?? [])) {
      expect((await fx.applyClientFix(plan, f)).changed).toBe(true);
      const restarted = await fx.restartClient(plan, f, 'lab-test');
      if (f.kind === 'kubelet') expect((await fx.waitNodeReady(plan, f.node, restarted.heartbeatBefore)).summary).toContain(`server ${LB}`);
    }
    console.log(`[lab.test] client fixes (kube-proxy patched + rolled, worker-2 kubelet rewritten + restarted + Ready): ${Date.now() - t0} ms`);
    const after = await standInKubelet('worker-2');
    expect(after?.pid).not.toBe(before?.pid);
    expect(after?.server).toBe(LB);
    expect((await pf.preflight(plan)).blockers).toEqual([]);
  }, 180_000);

  it('`plan show --live` diffs the files the migration would write against the live hosts (read-only)', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const cli = new URL('../bin/cpmigrate.js', `file://${__filename}`).pathname;
    const r = await promisify(execFile)(process.execPath, [cli, 'plan', 'show', '--live', '--output', 'json', paths.plan], { maxBuffer: 16 << 20 });
    const { liveDiffs } = JSON.parse(r.stdout) as { liveDiffs: Array<{ host: string; file: string; changed: boolean; diff?: string; error?: string }> };
    expect(liveDiffs.filter((d) => d.error)).toEqual([]);
    const api = liveDiffs.find((d) => d.host === 'master-2' && d.file === plan.paths.apiserverConfig);
    expect(api?.changed).toBe(true);
    expect(api?.diff).toContain('--etcd-servers=http://198.18.0.21:2379,http://198.18.0.22:2379,http://198.18.0.23:2379');
    expect(api?.diff).toContain('198.18.0.22');
    const lb = liveDiffs.find((d) => d.host === 'master-3' && d.file === plan.paths.nginxConfig);
    expect(lb?.diff).toMatch(/\+\s*server 198\.18\.0\.21:6443/);
    // read-only: nothing was written on the new masters
    const after = await ops.readFile(sshTargetOf(plan, plan.newMasters[1] as Plan['newMasters'][number]), plan.paths.apiserverConfig);
    expect(after).toBeUndefined();
  });

  it('control-plane activities bring up apiserver, LB, controller-manager and scheduler on master-1', async () => {
    const cp = createControlPlaneActivities({ hostOps: () => ops });
    const certs = createCertActivities({ hostOps: () => ops });
    await certs.copyPki(plan, 'oldmaster-1', 'master-1');
    await certs.reissueApiserverCert(plan, 'master-1');
    // a stand-in for the new etcd members (joining them is the etcd activities' job)
    const etcd = plan.oldMasters.map((h) => h.etcd.clientURL);
    const t0 = Date.now();
    expect((await cp.configureApiserver(plan, 'master-1', etcd)).changed).toBe(true);
    expect((await cp.configureApiserver(plan, 'master-1', etcd)).changed).toBe(false);
    await cp.startComponent(plan, 'master-1', 'apiserver');
    await cp.waitComponentHealthy(plan, 'master-1', 'apiserver');
    const apiserverMs = Date.now() - t0;
    await cp.configureApiserverLb(plan, 'master-1');
    await cp.startComponent(plan, 'master-1', 'loadBalancer');
    await cp.waitComponentHealthy(plan, 'master-1', 'loadBalancer');
    await cp.configureControllerManagerScheduler(plan, 'master-1');
    for (const c of ['controllerManager', 'scheduler'] as const) {
      await cp.startComponent(plan, 'master-1', c);
      await cp.waitComponentHealthy(plan, 'master-1', c);
    }
    console.log(`[lab.test] master-1 control plane: apiserver ready ${apiserverMs} ms after configure; all components ${Date.now() - t0} ms`);
    const env = (await ops.readFile(sshTargetOf(plan, plan.newMasters[0] as Plan['newMasters'][number]), plan.paths.apiserverConfig))?.toString() ?? '';
    expect(env).toContain('--advertise-address=198.18.0.21');
    expect(env).toContain(`--etcd-servers=${etcd.join(',')}`);
  }, 180_000);

  it('the VIP moves to master-1 when its keepalived starts, and back when it stops; the API stays reachable', async () => {
    const vip = createVipActivities({ hostOps: () => ops, pollMs: 100 });
    const cp = createControlPlaneActivities({ hostOps: () => ops });
    const ca = (await ops.readFile(sshTargetOf(plan, plan.oldMasters[0] as Plan['oldMasters'][number]), `${plan.paths.pkiDir}/ca.crt`)) as Buffer;

    let probe = vipProbe(ca);
    const t0 = Date.now();
    const k = await vip.configureKeepalived(plan, 'master-1');
    expect(k.summary).toMatch(/priority 150, multicast/);
    const v = await vip.verifyVip(plan, 'new');
    const moveMs = Date.now() - t0;
    let p = await probe.end();
    console.log(
      `[lab.test] VIP old→master-1: verified ${moveMs} ms after configureKeepalived began; probe: ${p.sent} sent, ${p.failed} failed, longest gap ${p.longestGapMs} ms`,
    );
    expect(v.holders).toEqual(['master-1']);
    expect(p.longestGapMs).toBeLessThan(5_000);

    probe = vipProbe(ca);
    const t1 = Date.now();
    await cp.stopComponent(plan, 'master-1', 'keepalived');
    const back = await vip.verifyVip(plan, 'old');
    p = await probe.end();
    console.log(
      `[lab.test] VIP master-1→old (keepalived stopped): verified ${Date.now() - t1} ms; probe: ${p.sent} sent, ${p.failed} failed, longest gap ${p.longestGapMs} ms`,
    );
    expect(back.holders).toHaveLength(1);
    expect(p.longestGapMs).toBeLessThan(5_000);
  }, 120_000);

  it('`lab down` stops every daemon and removes namespaces, bridge and state', async () => {
    const pidFiles = HOSTS.flatMap((h) =>
      ['sshd', 'etcd', 'kube-apiserver', 'apiserver-nginx-lb', 'keepalived'].map((c) => `${paths.hostDir(h.name)}/run/${c}.pid`),
    );
    const pids = pidFiles.map((f) => livePid(f)).filter((p): p is number => p !== undefined);
    expect(pids.length).toBeGreaterThan(HOSTS.length);
    await labDown();
    // a zombie waiting for init to reap it is dead too
    const alive = pids.filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return !/ Z /.test(stat.slice(stat.lastIndexOf(')')));
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    const ns = await namespaces();
    expect(ns.filter((n) => HOSTS.some((h) => h.name === n))).toEqual([]);
    expect((await netStatus()).bridge).toBe(false);
    expect(existsSync(LAB_DIR)).toBe(false);
    expect(existsSync(paths.svcScript)).toBe(false);
    expect(BRIDGE).toBe('cpm-br0');
  }, 120_000);
});
