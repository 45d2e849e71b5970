/**
 * Checks that a cluster is in the runbook's "after" state, using the same
 * clients the activities use (SSH, etcd, the Kubernetes API). Read-only.
 */
import * as k8s from '@kubernetes/client-node';
import { createEtcdActivities } from '../activities/etcd';
import { createKubeActivities } from '../activities/kube';
import { createKubeClientActivities } from '../activities/kube-clients';
import { checkClients } from '../activities/preflight-clients';
import type { Blocker } from '../activities/types';
import { createVipActivities } from '../activities/vip';
import type { HostOps } from '../lib/hostops';
import { serviceCommand } from '../lib/services';
import { sshTargetOf } from '../plan/hosts';
import type { Plan, Service } from '../plan/schema';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

function kubeClient(plan: Plan): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plan.kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}

const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

export async function verifyAfterState(plan: Plan, hostOps: () => HostOps): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const safely = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      add(name, false, `could not check: ${(e as Error).message}`);
    }
  };

  await safely('etcd has exactly the 3 new members', async () => {
    const health = await createEtcdActivities({ hostOps }).etcdHealth(plan);
    const names = health.members.map((m) => m.name);
    add('etcd has exactly the 3 new members', same(names, plan.newMasters.map((h) => h.etcd.name)) && health.healthy, `members [${names.join(', ')}], healthy ${health.healthy}${health.problems.length ? `: ${health.problems.join('; ')}` : ''}`);
  });

  await safely('the VIP is on a new master and the API answers through it', async () => {
    const vip = await createVipActivities({ hostOps }).verifyVip(plan, 'new');
    const onNew = vip.holders.length === 1 && plan.newMasters.some((h) => h.name === vip.holders[0]);
    add('the VIP is on a new master and the API answers through it', onNew && vip.readyzThroughVip, vip.summary);
  });

  const stopped = async (label: string, service: Service) => {
    for (const h of plan.oldMasters) {
      await safely(`${label} stopped on ${h.name}`, async () => {
        const r = await hostOps().run(sshTargetOf(plan, h), serviceCommand(service, 'status'), { allowFailure: true, timeoutMs: 15_000 });
        add(`${label} stopped on ${h.name}`, r.exitCode !== 0, r.exitCode === 0 ? 'still running' : 'stopped');
      });
    }
  };
  await stopped('kube-apiserver', plan.apiserver.service);
  await stopped('apiserver LB', plan.loadBalancer.service);
  await stopped('etcd', plan.etcd.service);
  await stopped('keepalived', plan.keepalived.service);

  const core = kubeClient(plan);
  const [labelKey] = plan.nodes.masterLabel.split('=');
  const [taintKey] = plan.nodes.isolationTaint.split(/[=:]/);
  const [masterTaintKey] = plan.nodes.masterTaint.split(/[=:]/);
  for (const h of plan.oldMasters) {
    await safely(`${h.name} has no master label`, async () => {
      const node = await core.readNode({ name: h.name });
      const has = labelKey !== undefined && node.metadata?.labels?.[labelKey] !== undefined;
      add(`${h.name} has no master label`, !has, has ? `label ${labelKey} still set` : 'removed');
    });
  }
  for (const h of plan.newMasters) {
    await safely(`${h.name} is a master without the isolation taint`, async () => {
      const node = await core.readNode({ name: h.name });
      const taints = (node.spec?.taints ?? []).map((t) => t.key);
      const label = labelKey !== undefined && node.metadata?.labels?.[labelKey] !== undefined;
      const ok = label && !taints.includes(taintKey ?? '') && taints.includes(masterTaintKey ?? '') && !node.spec?.unschedulable;
      add(`${h.name} is a master without the isolation taint`, ok, `label ${label ? 'set' : 'missing'}, taints [${taints.join(', ')}], unschedulable ${node.spec?.unschedulable ?? false}`);
    });
  }

  const newURLs = plan.newMasters.map((h) => h.etcd.clientURL);
  await safely('calico-config points at the new etcd members', async () => {
    const cm = await core.readNamespacedConfigMap({ name: plan.calico.configMap, namespace: plan.calico.namespace });
    const got = (cm.data?.etcd_endpoints ?? '').split(',').filter(Boolean);
    add('calico-config points at the new etcd members', same(got, newURLs), `etcd_endpoints=${got.join(',')}`);
  });
  await safely('the exporter Endpoints point at the new masters', async () => {
    const ep = await core.readNamespacedEndpoints({ name: plan.monitoring.endpoints, namespace: plan.monitoring.namespace });
    const got = (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
    add('the exporter Endpoints point at the new masters', same(got, plan.newMasters.map((h) => h.address)), `addresses ${got.join(', ')}`);
  });
  await safely('no client points at an old master', async () => {
    const blockers: Blocker[] = [];
    const hosts = [...plan.oldMasters, ...plan.newMasters, ...plan.workerNodes].map((h) => h.name);
    const r = await checkClients({
      plan,
      ops: hostOps(),
      kube: { ...createKubeActivities(), ...createKubeClientActivities() },
      reachable: new Set(hosts),
      sink: { block: (b) => blockers.push(b), warn: () => undefined, done: () => undefined },
    });
    const old = new Set(plan.oldMasters.map((h) => h.address));
    const toOld = r.fixes.filter((f) => f.kind !== 'controlplane' && old.has(new URL(f.from).hostname));
    add(
      'no client points at an old master',
      !toOld.length && !blockers.length && !r.nodes.unverified.length,
      `kubelets on ${r.nodes.checked} nodes (${r.nodes.fromApi} found through the API) and kube-proxy checked` +
        `${toOld.length ? `; pointing at an old master: ${toOld.map((f) => `${f.kind === 'kubelet' ? f.node : 'kube-proxy'} → ${f.from}`).join(', ')}` : ''}` +
        `${blockers.length ? `; ${blockers.map((b) => b.message).join('; ')}` : ''}${r.nodes.unverified.length ? `; unverified: ${r.nodes.unverified.map((u) => u.node).join(', ')}` : ''}`,
    );
  });
  await safely('every Node is Ready', async () => {
    const nodes = (await core.listNode({})).items;
    const notReady = nodes.filter((n) => !n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata?.name ?? '?');
    add('every Node is Ready', nodes.length > 0 && !notReady.length, notReady.length ? `not Ready: ${notReady.join(', ')}` : `${nodes.length} Nodes Ready`);
  });
  return checks;
}
