/** Preflight against in-memory hosts and injected kube/etcd probes: named blockers, never a throw. */
import { describe, expect, it } from 'vitest';
import { createPreflightActivities, type PreflightKube } from '../src/activities/preflight';
import { Reasons } from '../src/activities/reasons';
import type { EtcdHealthReport } from '../src/activities/types';
import { FakeHosts } from './support/fake-hosts';
import { testPlan } from './support/plans';

const plan = testPlan();
const LB = `https://${plan.loadBalancer.vip}:${plan.loadBalancer.port}`;
const kc = (server: string) => `apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: ${server}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`;

function healthy(): EtcdHealthReport {
  return {
    healthy: true,
    leaderId: '1',
    alarms: [],
    problems: [],
    members: plan.oldMasters.map((h, i) => ({ id: String(i + 1), name: h.name, peerURLs: [h.etcd.peerURL], clientURLs: [h.etcd.clientURL], isLearner: false, reachable: true })),
  };
}

function world() {
  const f = new FakeHosts();
  for (const h of [...plan.oldMasters, ...plan.newMasters]) f.host(h.name).files.set(plan.paths.kubeletKubeconfig, kc(LB));
  for (const h of plan.oldMasters) {
    f.host(h.name).files.set(plan.paths.controllerManagerKubeconfig, kc('https://127.0.0.1:8686'));
    f.host(h.name).files.set(plan.paths.schedulerKubeconfig, kc(`https://${h.address}:8686`));
  }
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
    w.f.handlers.push((host, cmd) => (host === 'master-3' && cmd.startsWith('findmnt') ? { stdout: '/data\n   [E] unreachable on boot required target\n', stderr: '', exitCode: 1 } : undefined));
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
    expect(kubelet?.fix).toBe(`on master-2: sed -i "s#server: https://.*#server: ${LB}#" ${plan.paths.kubeletKubeconfig} && systemctl restart kubelet`);
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
});
