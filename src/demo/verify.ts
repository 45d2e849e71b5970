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
import { servicePortsOf } from '../activities/controlplane';
import { HostUnreachableError } from '../errors';
import { presumedDown } from '../lib/reachability';
import type { HostOps } from '../lib/hostops';
import { serviceCommand } from '../lib/services';
import { addedMasters, keptMasters, liveOldMasters, reachableMasters, sshTargetOf } from '../plan/hosts';
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

type Add = (name: string, ok: boolean, detail: string) => void;
type Safely = (name: string, fn: () => Promise<void>) => Promise<void>;

/** "<component> stopped on <host>" for each host; a powered-off host (SSH and every port silent) counts as stopped, said so. */
function stoppedCheck(plan: Plan, hostOps: () => HostOps, safely: Safely, add: Add) {
  return async (hosts: Plan['oldMasters'], label: string, service: Service): Promise<void> => {
    for (const h of hosts) {
      await safely(`${label} stopped on ${h.name}`, async () => {
        const t = sshTargetOf(plan, h);
        try {
          const r = await hostOps().run(t, serviceCommand(service, 'status'), { allowFailure: true, timeoutMs: 15_000 });
          add(`${label} stopped on ${h.name}`, r.exitCode !== 0, r.exitCode === 0 ? 'still running' : 'stopped');
        } catch (e) {
          const down = e instanceof HostUnreachableError ? await presumedDown(hostOps(), t, servicePortsOf(plan, h), 1) : undefined;
          if (!down) throw e;
          add(`${label} stopped on ${h.name}`, true, `powered off: ${down}`);
        }
      });
    }
  };
}

function collector() {
  const checks: Check[] = [];
  const add: Add = (name, ok, detail) => void checks.push({ name, ok, detail });
  const safely: Safely = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      add(name, false, `could not check: ${(e as Error).message}`);
    }
  };
  return { checks, add, safely };
}

/** The runbook's "before" state, after an abort --rollback: old etcd members only, VIP on an old master, nothing new running. */
export async function verifyBeforeState(plan: Plan, hostOps: () => HostOps): Promise<Check[]> {
  const { checks, add, safely } = collector();
  await safely('before: etcd has exactly the old members', async () => {
    const health = await createEtcdActivities({ hostOps }).etcdHealth(plan);
    const names = health.members.map((m) => m.name);
    add(
      'before: etcd has exactly the old members',
      same(
        names,
        plan.oldMasters.map((h) => h.etcd.name),
      ) && health.healthy,
      `members [${names.join(', ')}], healthy ${health.healthy}${health.problems.length ? `: ${health.problems.join('; ')}` : ''}`,
    );
  });
  await safely('before: the VIP is on an old master and the API answers through it', async () => {
    const vip = await createVipActivities({ hostOps }).verifyVip(plan, 'old');
    add('before: the VIP is on an old master and the API answers through it', vip.holders.length === 1 && vip.readyzThroughVip, vip.summary);
  });
  const stopped = stoppedCheck(plan, hostOps, safely, (n, ok, d) => add(`before: ${n}`, ok, d));
  const added = addedMasters(plan);
  await stopped(added, 'kube-apiserver', plan.apiserver.service);
  await stopped(added, 'apiserver LB', plan.loadBalancer.service);
  await stopped(added, 'kube-controller-manager', plan.controllerManager.service);
  await stopped(added, 'kube-scheduler', plan.scheduler.service);
  await stopped(added, 'etcd', plan.etcd.service);
  await stopped(added, 'keepalived', plan.keepalived.service);
  await safely('before: calico-config points at the old etcd members', async () => {
    const cm = await kubeClient(plan).readNamespacedConfigMap({ name: plan.calico.configMap, namespace: plan.calico.namespace });
    const got = (cm.data?.etcd_endpoints ?? '').split(',').filter(Boolean);
    add(
      'before: calico-config points at the old etcd members',
      same(
        got,
        liveOldMasters(plan).map((h) => h.etcd.clientURL),
      ),
      `etcd_endpoints=${got.join(',')}`,
    );
  });
  return checks;
}

/**
 * Old masters that are powered off (SSH and every service port silent): they
 * run nothing, hold no VIP that anyone reaches and read no kubeconfig, so the
 * checks below skip them and say so. A new master is never skipped.
 */
async function poweredOffOldMasters(plan: Plan, hostOps: () => HostOps): Promise<Map<string, string>> {
  const down = new Map<string, string>();
  for (const h of plan.oldMasters) {
    const why = await presumedDown(hostOps(), sshTargetOf(plan, h), servicePortsOf(plan, h), 1).catch(() => undefined);
    if (why) down.set(h.name, why);
  }
  return down;
}

export async function verifyAfterState(plan: Plan, hostOps: () => HostOps): Promise<Check[]> {
  const { checks, add, safely } = collector();
  const off = await poweredOffOldMasters(plan, hostOps);
  const skipped = off.size ? `; not checked (powered off): ${[...off.values()].join('; ')}` : '';

  const membersCheck = `etcd has exactly the ${plan.newMasters.length} new members`;
  await safely(membersCheck, async () => {
    const health = await createEtcdActivities({ hostOps }).etcdHealth(plan);
    const names = health.members.map((m) => m.name);
    add(
      membersCheck,
      same(
        names,
        plan.newMasters.map((h) => h.etcd.name),
      ) && health.healthy,
      `members [${names.join(', ')}], healthy ${health.healthy}${health.problems.length ? `: ${health.problems.join('; ')}` : ''}`,
    );
  });

  await safely('the VIP is on a new master and the API answers through it', async () => {
    const reachable = { ...plan, oldMasters: plan.oldMasters.filter((h) => !off.has(h.name)) };
    const vip = await createVipActivities({ hostOps }).verifyVip(reachable, 'new');
    const onNew = vip.holders.length === 1 && plan.newMasters.some((h) => h.name === vip.holders[0]);
    add('the VIP is on a new master and the API answers through it', onNew && vip.readyzThroughVip, `${vip.summary}${skipped}`);
  });

  // the old masters that are gone (decommissioned, or failed: powered off); a kept one still runs everything
  const kept = keptMasters(plan);
  const gone = plan.oldMasters.filter((h) => !kept.includes(h));
  const stopped = stoppedCheck(plan, hostOps, safely, add);
  await stopped(gone, 'kube-apiserver', plan.apiserver.service);
  await stopped(gone, 'apiserver LB', plan.loadBalancer.service);
  await stopped(gone, 'etcd', plan.etcd.service);
  await stopped(gone, 'keepalived', plan.keepalived.service);
  for (const h of kept) {
    for (const [label, service] of [
      ['kube-apiserver', plan.apiserver.service],
      ['etcd', plan.etcd.service],
      ['apiserver LB', plan.loadBalancer.service],
    ] as const) {
      await safely(`${label} still runs on the kept ${h.name}`, async () => {
        const r = await hostOps().run(sshTargetOf(plan, h), serviceCommand(service, 'status'), { allowFailure: true, timeoutMs: 15_000 });
        add(`${label} still runs on the kept ${h.name}`, r.exitCode === 0, r.exitCode === 0 ? 'running' : `stopped (status exits ${r.exitCode})`);
      });
    }
  }
  for (const h of gone) {
    await safely(`${h.name} fenced (keepalived config moved aside)`, async () => {
      const t = sshTargetOf(plan, h);
      const down = await presumedDown(hostOps(), t, servicePortsOf(plan, h), 1).catch(() => undefined);
      if (down) return add(`${h.name} fenced (keepalived config moved aside)`, true, `not checked: ${down}`);
      const r = await hostOps().run(t, `test ! -e '${plan.paths.keepalivedConfig}'`, { allowFailure: true, timeoutMs: 15_000 });
      add(
        `${h.name} fenced (keepalived config moved aside)`,
        r.exitCode === 0,
        r.exitCode === 0 ? `${plan.paths.keepalivedConfig} gone` : `${plan.paths.keepalivedConfig} still there`,
      );
    });
  }

  const core = kubeClient(plan);
  const [labelKey] = plan.nodes.masterLabel.split('=');
  const [taintKey] = plan.nodes.isolationTaint.split(/[=:]/);
  const [masterTaintKey] = plan.nodes.masterTaint.split(/[=:]/);
  for (const h of gone) {
    await safely(`${h.name} has no master label`, async () => {
      const node = await core.readNode({ name: h.name });
      const has = labelKey !== undefined && node.metadata?.labels?.[labelKey] !== undefined;
      add(`${h.name} has no master label`, !has, has ? `label ${labelKey} still set` : 'removed');
    });
  }
  for (const h of addedMasters(plan)) {
    await safely(`${h.name} is a master without the isolation taint`, async () => {
      const node = await core.readNode({ name: h.name });
      const taints = (node.spec?.taints ?? []).map((t) => t.key);
      const label = labelKey !== undefined && node.metadata?.labels?.[labelKey] !== undefined;
      const ok = label && !taints.includes(taintKey ?? '') && taints.includes(masterTaintKey ?? '') && !node.spec?.unschedulable;
      add(
        `${h.name} is a master without the isolation taint`,
        ok,
        `label ${label ? 'set' : 'missing'}, taints [${taints.join(', ')}], unschedulable ${node.spec?.unschedulable ?? false}`,
      );
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
    add(
      'the exporter Endpoints point at the new masters',
      same(
        got,
        plan.newMasters.map((h) => h.address),
      ),
      `addresses ${got.join(', ')}`,
    );
  });
  await safely('no client points at an old master', async () => {
    const blockers: Blocker[] = [];
    const hosts = [...reachableMasters(plan), ...plan.workerNodes].map((h) => h.name).filter((n) => !off.has(n));
    const r = await checkClients({
      plan,
      ops: hostOps(),
      kube: { ...createKubeActivities(), ...createKubeClientActivities() },
      reachable: new Set(hosts),
      sink: { block: (b) => blockers.push(b), warn: () => undefined, done: () => undefined },
    });
    const old = new Set(gone.map((h) => h.address));
    const toOld = r.fixes.filter((f) => f.kind !== 'controlplane' && old.has(new URL(f.from).hostname));
    add(
      'no client points at an old master',
      !toOld.length && !blockers.length && !r.nodes.unverified.length,
      `kubelets on ${r.nodes.checked} nodes (${r.nodes.fromApi} found through the API) and kube-proxy checked` +
        `${toOld.length ? `; pointing at an old master: ${toOld.map((f) => `${f.kind === 'kubelet' ? f.node : 'kube-proxy'} → ${f.from}`).join(', ')}` : ''}` +
        `${blockers.length ? `; ${blockers.map((b) => b.message).join('; ')}` : ''}${r.nodes.unverified.length ? `; unverified: ${r.nodes.unverified.map((u) => u.node).join(', ')}` : ''}${skipped}`,
    );
  });
  await safely('every Node is Ready', async () => {
    const nodes = (await core.listNode({})).items;
    const notReady = nodes.filter((n) => !n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata?.name ?? '?');
    // a powered-off old master's Node stays NotReady until the operator deletes it: expected, said so
    const unexpected = notReady.filter((n) => !off.has(n));
    const offNote =
      notReady.length > unexpected.length
        ? `; NotReady because powered off (delete the Node once it is retired): ${notReady.filter((n) => off.has(n)).join(', ')}`
        : '';
    add(
      'every Node is Ready',
      nodes.length > 0 && !unexpected.length,
      `${unexpected.length ? `not Ready: ${unexpected.join(', ')}` : `${nodes.length - notReady.length} Nodes Ready`}${offNote}`,
    );
  });
  return checks;
}
