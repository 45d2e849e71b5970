/** Preflight against in-memory hosts and injected kube/etcd probes: named blockers, never a throw. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPreflightActivities, type PreflightKube } from '../src/activities/preflight';
import { Reasons } from '../src/activities/reasons';
import type { EtcdHealthReport } from '../src/activities/types';
import { planSchema, type Host, type Plan } from '../src/plan/schema';
import { x509lib } from '../src/lib/x509';
import { FakeHosts } from './support/fake-hosts';
import { examplePlanInput, testPlan } from './support/plans';

const passFile = join(mkdtempSync(join(tmpdir(), 'cpm-pf-')), 'vrrp-pass');
writeFileSync(passFile, 'pw123456\n', { mode: 0o600 });
const plan: Plan = { ...testPlan(), keepalived: { ...testPlan().keepalived, authPassFile: passFile } };

/** A throwaway self-signed certificate (PEM) carrying these SANs. */
async function selfSignedWithSans(sans: Array<{ type: 'dns' | 'ip'; value: string }>): Promise<string> {
  const x509 = await x509lib();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=etcd-member',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(sans)],
  });
  return cert.toString('pem');
}

const LB = `https://${plan.loadBalancer.vip}:${plan.loadBalancer.port}`;
const kc = (server: string) =>
  `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: ${server}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`;

function healthy(): EtcdHealthReport {
  return {
    healthy: true,
    leaderId: '1',
    alarms: [],
    problems: [],
    members: plan.oldMasters.map((h, i) => ({
      id: String(i + 1),
      name: h.name,
      peerURLs: [h.etcd.peerURL],
      clientURLs: [h.etcd.clientURL],
      isLearner: false,
      reachable: true,
    })),
  };
}

function keepalivedOf(
  h: { name: string; address: string },
  prio: number,
  o: { vrid?: number; iface?: string; pass?: string; peers?: string[]; script?: string } = {},
): string {
  return [
    'global_defs {',
    `    router_id ${h.name}`,
    '}',
    'vrrp_script chk_nginx {',
    `    script "${o.script ?? '/usr/bin/pgrep nginx'}"`,
    '}',
    'vrrp_instance VI_1 {',
    `    interface ${o.iface ?? 'eth0'}`,
    `    virtual_router_id ${o.vrid ?? 51}`,
    `    priority ${prio}`,
    ...(o.peers
      ? [`    unicast_src_ip ${h.address}`, '    unicast_peer {', ...o.peers.filter((a) => a !== h.address).map((a) => `        ${a}`), '    }']
      : []),
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${o.pass ?? 'pw123456'}`,
    '    }',
    '    virtual_ipaddress {',
    `        ${plan.loadBalancer.vip}/24 dev eth0`,
    '    }',
    '    track_script {',
    '        chk_nginx',
    '    }',
    '}',
    '',
  ].join('\n');
}

function world() {
  const f = new FakeHosts();
  for (const h of [...plan.oldMasters, ...plan.newMasters]) f.host(h.name).files.set(plan.paths.kubeletKubeconfig, kc(LB));
  plan.oldMasters.forEach((h, i) => {
    f.host(h.name).files.set(plan.paths.controllerManagerKubeconfig, kc('https://127.0.0.1:8686'));
    f.host(h.name).files.set(plan.paths.schedulerKubeconfig, kc(`https://${h.address}:8686`));
    f.host(h.name).files.set(plan.paths.keepalivedConfig, keepalivedOf(h, 100 - i));
    f.host(h.name).files.set(
      plan.paths.nginxConfig,
      `stream {\n    upstream kube_apiserver {\n${plan.oldMasters.map((x) => `        server ${x.address}:8686;`).join('\n')}\n    }\n}\n`,
    );
    f.host(h.name).files.set(
      plan.paths.apiserverConfig,
      `KUBE_APISERVER_ARGS="--advertise-address=${h.address} --etcd-servers=${plan.oldMasters.map((x) => x.etcd.clientURL).join(',')}"\n`,
    );
  });
  const nodes = new Set(plan.newMasters.map((h) => h.name));
  const kube: PreflightKube & { server: string } = { server: LB, readKubeProxyServer: async () => kube.server, nodeExists: async (_p, n) => nodes.has(n) };
  let etcd: () => Promise<EtcdHealthReport> = async () => healthy();
  const pf = () => createPreflightActivities({ hostOps: () => f, kube, etcdHealth: () => etcd() });
  return { f, kube, nodes, setEtcd: (fn: typeof etcd) => (etcd = fn), pf };
}

describe('preflight', () => {
  it('passes a cluster as the runbook wants it', async () => {
    const w = world();
    const r = await w.pf().preflight(plan);
    expect(r.blockers).toEqual([]);
    expect(r.checked.length).toBeGreaterThanOrEqual(6);
  });

  it('reports every problem at once, each with a reason, and offers fixes without applying them', async () => {
    const w = world();
    w.f.host('master-2').files.set(plan.paths.kubeletKubeconfig, kc('https://10.200.20.11:8686'));
    w.f.host('oldmaster-3').files.set(plan.paths.schedulerKubeconfig, kc(LB));
    w.f.host('oldmaster-2').unreachable = true;
    w.f.handlers.push((host, cmd) =>
      host === 'master-3' && cmd.startsWith('findmnt') ? { stdout: '/data\n   [E] unreachable on boot required target\n', stderr: '', exitCode: 1 } : undefined,
    );
    w.kube.server = 'https://10.200.20.11:8686';
    w.nodes.delete('master-1');
    w.setEtcd(async () => ({ ...healthy(), healthy: false, problems: ['member oldmaster-3 unreachable'] }));
    const r = await w.pf().preflight(plan);
    const reasons = r.blockers.map((b) => `${b.reason}:${b.subject}`).sort();
    expect(reasons).toEqual(
      [
        `${Reasons.SshUnreachable}:oldmaster-2`,
        `${Reasons.KubeletNotUsingLB}:master-2`,
        `${Reasons.ControlPlaneKubeconfigNotLocal}:oldmaster-3`,
        `${Reasons.FstabInvalid}:master-3`,
        `${Reasons.KubeProxyNotUsingLB}:kube-system/kube-proxy`,
        `${Reasons.NodeNotFound}:master-1`,
        `${Reasons.EtcdUnhealthy}:etcd`,
      ].sort(),
    );
    const kubelet = r.blockers.find((b) => b.reason === Reasons.KubeletNotUsingLB);
    expect(kubelet?.fix).toBe(
      `on master-2: sed -i "s#server: https://10.200.20.11:8686#server: ${LB}#" ${plan.paths.kubeletKubeconfig} && systemctl restart 'kubelet' (or set checkpoints.client-fixes.enabled: cpmigrate applies it after approval)`,
    );
    expect(kubelet?.fixable).toBe(true);
    expect(r.clientFixes).toContainEqual({
      kind: 'kubelet',
      node: 'master-2',
      address: '10.200.20.102',
      planHost: true,
      file: plan.paths.kubeletKubeconfig,
      from: 'https://10.200.20.11:8686',
      to: LB,
    });
    expect(r.clientFixes?.find((f) => f.kind === 'kube-proxy')).toMatchObject({
      from: 'https://10.200.20.11:8686',
      to: LB,
      key: 'kubeconfig.conf',
      daemonSet: 'kube-proxy',
    });
    expect(r.clientFixes?.find((f) => f.kind === 'controlplane')).toMatchObject({
      node: 'oldmaster-3',
      component: 'scheduler',
      from: LB,
      to: 'https://10.200.20.13:8686',
    });
    expect(w.f.host('master-2').files.get(plan.paths.kubeletKubeconfig)).toContain('10.200.20.11');
    expect(w.f.commands.every((c) => !/sed|systemctl restart/.test(c.command))).toBe(true);
  });

  it('turns probe failures into Unknown blockers instead of throwing', async () => {
    const w = world();
    w.setEtcd(async () => {
      throw new Error('all endpoints down');
    });
    w.kube.readKubeProxyServer = async () => {
      throw new Error('connect ETIMEDOUT');
    };
    const r = await w.pf().preflight(plan);
    expect(r.blockers.map((b) => b.reason).sort()).toEqual([Reasons.EtcdHealthUnknown, Reasons.KubeProxyConfigUnknown].sort());
  });

  it('flags learners and members that are not the plan old masters', async () => {
    const w = world();
    w.setEtcd(async () => {
      const h = healthy();
      h.members.push({ id: '9', name: 'stray', peerURLs: ['http://10.9.9.9:2380'], clientURLs: [], isLearner: true, reachable: true });
      return h;
    });
    const r = await w.pf().preflight(plan);
    expect(r.blockers.map((b) => b.reason).sort()).toEqual([Reasons.EtcdLearnerPresent, Reasons.EtcdMembersMismatch].sort());
  });

  it('in resume mode accepts a cluster part-way through this plan, but still blocks members outside it', async () => {
    const w = world();
    const partWay = (): EtcdHealthReport => {
      const h = healthy();
      h.members = [plan.oldMasters[1], ...plan.newMasters].map((m, i) => ({
        id: String(i + 1),
        name: m?.name ?? '?',
        peerURLs: [m?.etcd.peerURL ?? ''],
        clientURLs: [m?.etcd.clientURL ?? ''],
        isLearner: false,
        reachable: true,
      }));
      return h;
    };
    w.setEtcd(async () => partWay());
    expect((await w.pf().preflight(plan)).blockers.map((b) => b.reason)).toEqual([Reasons.EtcdMembersMismatch]);
    expect((await w.pf().preflight(plan, 'resume')).blockers).toEqual([]);
    w.setEtcd(async () => {
      const h = partWay();
      h.members.push({ id: '9', name: 'stray', peerURLs: ['http://10.9.9.9:2380'], clientURLs: [], isLearner: false, reachable: true });
      return h;
    });
    const r = await w.pf().preflight(plan, 'resume');
    expect(r.blockers.map((b) => b.reason)).toEqual([Reasons.EtcdMembersMismatch]);
    expect(r.blockers[0]?.message).toContain('stray');
  });

  it('in resume mode an old master that was switched off is fine once its etcd member is gone, and blocks while it is still a member', async () => {
    const w = world();
    const members = (hosts: Plan['oldMasters']): EtcdHealthReport => {
      const h = healthy();
      h.members = hosts.map((m, i) => ({
        id: String(i + 1),
        name: m.name,
        peerURLs: [m.etcd.peerURL],
        clientURLs: [m.etcd.clientURL],
        isLearner: false,
        reachable: true,
      }));
      return h;
    };
    const off = plan.oldMasters[0]?.name ?? '';
    w.f.host(off).unreachable = true;
    w.setEtcd(async () => members([...plan.oldMasters.slice(1), ...plan.newMasters]));
    const gone = await w.pf().preflight(plan, 'resume');
    expect(gone.blockers).toEqual([]);
    expect(gone.warnings.find((x) => x.subject === off)?.message).toMatch(/already removed: treated as decommissioned/);
    w.setEtcd(async () => members([...plan.oldMasters, ...plan.newMasters]));
    const still = await w.pf().preflight(plan, 'resume');
    expect(still.blockers.map((b) => [b.reason, b.subject])).toEqual([[Reasons.SshUnreachable, off]]);
    expect(still.blockers[0]?.message).toMatch(/still in the cluster/);
    // a fresh start still needs every host
    expect((await w.pf().preflight(plan)).blockers.map((b) => b.subject)).toContain(off);
  });

  it('with https etcd, blocks without an etcd CA; warns (the etcd-certs step fixes it) when a new master lacks its own certificates or their SANs do not name it', async () => {
    const input = examplePlanInput();
    const https = (h: { etcd: { clientURL: string; peerURL: string } }) => ({
      ...h,
      etcd: { ...h.etcd, clientURL: h.etcd.clientURL.replace('http:', 'https:'), peerURL: h.etcd.peerURL.replace('http:', 'https:') },
    });
    const tls: Plan = planSchema.parse({
      ...input,
      keepalived: { ...input.keepalived, authPassFile: passFile },
      oldMasters: input.oldMasters.map(https),
      newMasters: input.newMasters.map(https),
    });
    const dir = `${tls.paths.pkiDir}/etcd`;
    const w = world();
    w.setEtcd(async () => ({ ...healthy(), members: healthy().members.map((m) => ({ ...m, peerURLs: m.peerURLs.map((u) => u.replace('http:', 'https:')) })) }));
    // the SANs are read on the worker from the certificates themselves (lib/x509), not by a tool on the host
    const dnsIp = (names: string[]) => names.map((v) => ({ type: /^[\d.:]+$/.test(v) ? ('ip' as const) : ('dns' as const), value: v }));
    for (const h of tls.newMasters) {
      const good = await selfSignedWithSans(dnsIp([h.name, 'localhost', h.address, '127.0.0.1', '::1']));
      for (const f of ['ca.crt', 'server.key', 'peer.key']) w.f.host(h.name).files.set(`${dir}/${f}`, 'PEM');
      for (const f of ['server.crt', 'peer.crt']) w.f.host(h.name).files.set(`${dir}/${f}`, good);
    }
    // master-2 was never provisioned; master-3 got oldmaster-1's server certificate
    w.f.host('master-2').files.delete(`${dir}/server.key`);
    w.f.host('master-2').files.delete(`${dir}/peer.crt`);
    w.f.host('master-3').files.set(`${dir}/server.crt`, await selfSignedWithSans(dnsIp(['oldmaster-1', 'localhost', '10.200.20.11', '127.0.0.1'])));
    // master-1: a peer.crt that is no certificate: its SANs cannot be told, a warning
    w.f.host('master-1').files.set(`${dir}/peer.crt`, 'not a certificate');

    // no etcd CA on any old master: nothing could issue the member certificates
    const noCa = await w.pf().preflight(tls);
    expect(noCa.blockers.map((b) => b.reason)).toEqual([Reasons.EtcdCaMissing]);
    for (const f of ['ca.crt', 'ca.key']) w.f.host('oldmaster-2').files.set(`${dir}/${f}`, 'PEM');

    const r = await w.pf().preflight(tls);
    expect(r.blockers).toEqual([]);
    // missing or wrong per-host certificates are issued by the etcd-certs step: warnings, with the manual alternative
    expect(
      r.warnings
        .filter((b) => b.reason === Reasons.EtcdPerHostCertsMissing || b.reason === Reasons.EtcdPerHostCertSANMismatch)
        .map((b) => `${b.reason}:${b.subject}`)
        .sort(),
    ).toEqual([`${Reasons.EtcdPerHostCertsMissing}:master-2`, `${Reasons.EtcdPerHostCertSANMismatch}:master-3`].sort());
    const missing = r.warnings.find((b) => b.reason === Reasons.EtcdPerHostCertsMissing);
    expect(missing?.message).toContain(`missing ${dir}/server.key, ${dir}/peer.crt`);
    expect(missing?.message).toMatch(
      /yourself instead: on master-2: kubeadm init phase certs etcd-server && kubeadm init phase certs etcd-peer .*SANs including 10\.200\.20\.102/,
    );
    const san = r.warnings.find((b) => b.reason === Reasons.EtcdPerHostCertSANMismatch);
    expect(san?.message).toMatch(
      new RegExp(`^master-3: ${dir}/server\\.crt does not list 10\\.200\\.20\\.103 .*SANs \\(oldmaster-1, localhost, 10\\.200\\.20\\.11, 127\\.0\\.0\\.1\\)`),
    );
    expect(r.warnings.filter((b) => b.reason === Reasons.EtcdPerHostCertsUnknown).map((b) => b.subject)).toEqual(['master-1']);
    expect(r.checked.some((c) => c.startsWith('etcd over https'))).toBe(true);
    // no key was read off the hosts: existence via [ -e ]
    expect(w.f.commands.filter((c) => /\/etcd\/(server|peer)\.key/.test(c.command)).every((c) => c.command.startsWith('[ -e '))).toBe(true);

    // with plain http etcd URLs, no such check runs
    const plain = world();
    await plain.pf().preflight(plan);
    expect(plain.f.commands.some((c) => c.command.includes('/etcd/server.crt'))).toBe(false);
  });
  it('checks the kubelet on every Node the API lists, not only the plan hosts; a Node it cannot read is unverified, never skipped', async () => {
    const w = world();
    const file = plan.paths.kubeletKubeconfig;
    w.kube.listNodes = async () => [
      ...[...plan.oldMasters, ...plan.newMasters].map((h) => ({ name: h.name, internalIP: h.address })),
      { name: 'worker-7', internalIP: '10.200.20.57' },
      { name: 'worker-8', internalIP: '10.200.20.58' },
      { name: 'worker-9' },
      { name: 'worker-10', internalIP: '10.200.20.60' },
    ];
    w.f.host('worker-7').files.set(file, kc('https://10.200.20.11:8686'));
    w.f.host('worker-8').unreachable = true;
    w.f.host('worker-10').files.set(file, kc(LB));
    const r = await w.pf().preflight(plan);
    expect(r.blockers.map((b) => `${b.reason}:${b.subject}`)).toEqual([`${Reasons.KubeletNotUsingLB}:worker-7`]);
    expect(r.clientFixes).toEqual([
      { kind: 'kubelet', node: 'worker-7', address: '10.200.20.57', planHost: false, file, from: 'https://10.200.20.11:8686', to: LB },
    ]);
    expect(
      r.warnings
        .filter((x) => x.reason === Reasons.KubeletUnverified)
        .map((x) => x.subject)
        .sort(),
    ).toEqual(['worker-8', 'worker-9']);
    expect(r.warnings.find((x) => x.subject === 'worker-8')?.message).toMatch(/10\.200\.20\.58: connect ECONNREFUSED/);
    expect(r.nodes).toEqual({
      checked: 8,
      fromApi: 3,
      unverified: [{ node: 'worker-9', reason: 'the Node has no InternalIP address to reach it at' }, expect.objectContaining({ node: 'worker-8' })],
    });
    expect(r.checked.join('\n')).toContain(
      `${file} points at ${LB} on 8 node(s) (6 from the plan, 3 more found through the API); 2 unverified: worker-9, worker-8`,
    );

    // clients.unverified: block turns them into blockers; a Node list that fails is a blocker too
    const strict = planSchema.parse({ ...examplePlanInput(), clients: { unverified: 'block' } });
    const r2 = await w.pf().preflight(strict);
    expect(
      r2.blockers
        .filter((b) => b.reason === Reasons.KubeletUnverified)
        .map((b) => b.subject)
        .sort(),
    ).toEqual(['worker-8', 'worker-9']);
    w.kube.listNodes = async () => {
      throw new Error('connect ETIMEDOUT');
    };
    const r3 = await w.pf().preflight(plan);
    expect(r3.blockers.map((b) => b.reason)).toEqual([Reasons.NodeListUnknown]);
  });
});

describe('preflight: live configs and plan sanity (named blockers, nothing written)', () => {
  const blockersOf = async (w: ReturnType<typeof world>, p: Plan = plan) => {
    const before = w.f.commands.length;
    const r = await w.pf().preflight(p);
    // read-only: no push, no service command
    expect(w.f.commands.slice(before).filter((c) => /systemctl (start|stop|restart)|mv |chmod|chown/.test(c.command))).toEqual([]);
    return r.blockers;
  };
  const setKeepalived = (w: ReturnType<typeof world>, o: Parameters<typeof keepalivedOf>[2], hosts = plan.oldMasters) =>
    hosts.forEach((h, i) => w.f.host(h.name).files.set(plan.paths.keepalivedConfig, keepalivedOf(h, 100 - i, o)));

  it('keepalived: another virtual_router_id, interface or password than the plan', async () => {
    const w = world();
    setKeepalived(w, { vrid: 52 }, [plan.oldMasters[0] as Host]);
    setKeepalived(w, { iface: 'bond0' }, [plan.oldMasters[1] as Host]);
    setKeepalived(w, { pass: 'other123' }, [plan.oldMasters[2] as Host]);
    const b = (await blockersOf(w)).filter((x) => x.reason === Reasons.KeepalivedConfigMismatch);
    expect(b.map((x) => x.subject)).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3']);
    expect(b[0]?.message).toMatch(/virtual_router_id 52 \(plan keepalived.virtualRouterId 51\)/);
    expect(b[1]?.message).toMatch(/interface bond0 \(plan keepalived.interface eth0\)/);
    expect(b[2]?.message).toMatch(/password differs/);
    expect(JSON.stringify(b)).not.toMatch(/other123|pw123456/);
  });

  it('keepalived: unicast peers that lack the new masters, and priorities that could never move the VIP', async () => {
    const w = world();
    setKeepalived(w, { peers: plan.oldMasters.map((h) => h.address) });
    const b = await blockersOf(w);
    expect(b.filter((x) => x.reason === Reasons.KeepalivedPeersSplit).map((x) => x.subject)).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3']);
    expect(b.find((x) => x.reason === Reasons.KeepalivedPeersSplit)?.message).toMatch(
      /unicast_peer lacks the new masters 10\.200\.20\.101, 10\.200\.20\.102, 10\.200\.20\.103/,
    );

    const low: Plan = { ...plan, newMasters: plan.newMasters.map((h) => ({ ...h, keepalivedPriority: 90 })) };
    const p = (await blockersOf(world(), low)).filter((x) => x.reason === Reasons.KeepalivedPriorityCannotMove);
    expect(p).toHaveLength(1);
    expect(p[0]?.message).toMatch(/master-1 90, master-2 90, master-3 90\) is above the old masters' highest \(100\)/);
  });

  it('keepalived: a carried block naming another old master is refused with the block shown', async () => {
    const w = world();
    setKeepalived(w, { script: '/usr/bin/ping -c1 10.200.20.12' }, [plan.oldMasters[0] as Host]);
    const b = (await blockersOf(w)).filter((x) => x.reason === Reasons.KeepalivedBlockNotRemappable);
    expect(b).toHaveLength(1);
    expect(b[0]?.message).toContain('vrrp_script chk_nginx {\n    script "/usr/bin/ping -c1 10.200.20.12"\n}');
  });

  it('nginx upstream missing, and apiserver flag forms the rewriter cannot handle', async () => {
    const w = world();
    w.f.host('oldmaster-2').files.set(plan.paths.nginxConfig, 'stream {\n    upstream apiservers {\n        server 10.200.20.11:8686;\n    }\n}\n');
    w.f
      .host('oldmaster-3')
      .files.set(plan.paths.apiserverConfig, 'KUBE_APISERVER_ARGS="--advertise-address=10.200.20.13 --etcd-servers http://10.200.20.11:2379"\n');
    const b = await blockersOf(w);
    expect(b.filter((x) => x.reason === Reasons.NginxUpstreamMissing).map((x) => x.subject)).toEqual(['oldmaster-2']);
    expect(b.filter((x) => x.reason === Reasons.ApiserverConfigUnsupported).map((x) => x.subject)).toEqual(['oldmaster-3']);
    expect(b.find((x) => x.reason === Reasons.ApiserverConfigUnsupported)?.message).toMatch(/--etcd-servers=VALUE form/);
  });

  it('plan sanity: isolation taint key = master taint key, apiserverURL off the host, ~ in host paths', async () => {
    const bad: Plan = {
      ...plan,
      nodes: { ...plan.nodes, isolationTaint: 'node-role.kubernetes.io/master=isolated:NoSchedule' },
      newMasters: plan.newMasters.map((h, i) => (i === 0 ? { ...h, apiserverURL: 'https://10.200.20.11:8686' } : h)),
      paths: { ...plan.paths, nginxConfig: '~/nginx.conf' },
    };
    const b = await blockersOf(world(), bad);
    expect(b.filter((x) => x.reason === Reasons.PlanTaintKeyConflict)).toHaveLength(1);
    expect(b.filter((x) => x.reason === Reasons.PlanApiserverURLNotOwnAddress).map((x) => x.subject)).toEqual(['master-1']);
    expect(b.filter((x) => x.reason === Reasons.PlanHostPathNotAbsolute).map((x) => x.message)).toEqual([
      expect.stringMatching(/^paths.nginxConfig = ~\/nginx.conf/),
    ]);
  });
});
