/**
 * Preflight, the runbook's first step: every client of the apiserver uses the
 * LB (kubelets on every Node, kube-proxy) or its local apiserver
 * (controller-manager and scheduler on the old masters). Read-only.
 *
 * Every Node the API lists is checked, not only the plan's hosts: a Node the
 * plan does not list is reached over SSH at its InternalIP with defaults.ssh.
 * A Node that cannot be read is "unverified" (with the reason), never skipped.
 * Each client that points elsewhere is a blocker with the exact change, also
 * returned as a structured ClientFix that the client-fixes step applies once
 * its checkpoint is approved.
 */
import type { HostOps } from '../lib/hostops';
import { kubeconfigServer, pointsAt } from '../lib/kubeconfig-server';
import { UnknownHostKeyError } from '../lib/ssh';
import { serviceCommand } from '../lib/services';
import { describeFix, lbURLOf, type ClientFix } from '../plan/client-fix';
import { apiserverURLOf, sshTargetOf, urlHost, type SshTarget } from '../plan/hosts';
import type { Host, Plan, SshAccess } from '../plan/schema';
import { Reasons } from './reasons';
import type { Blocker, NodeCoverage } from './types';

/** A Node as the API lists it. */
export interface ListedNode {
  name: string;
  internalIP?: string;
}

/** What this check reads from the Kubernetes API (the kube activities; tests inject doubles). */
export interface ClientCheckKube {
  /** server URL in the kube-proxy ConfigMap (kube-system/kube-proxy) */
  readKubeProxyServer(plan: Plan): Promise<string>;
  /** the ConfigMap plan.clients.kubeProxy names: the key holding the kubeconfig and its server */
  readKubeProxyKubeconfig?(plan: Plan): Promise<{ key: string; server: string }>;
  /** every Node of the cluster */
  listNodes?(plan: Plan): Promise<ListedNode[]>;
}

export interface ClientCheckSink {
  block(b: Blocker): void;
  warn(b: Blocker): void;
  done(what: string): void;
}

type Role = 'old' | 'new' | 'worker';
interface PlanHost {
  name: string;
  address: string;
  ssh?: SshAccess;
  role: Role;
}

/** One place to read a kubelet kubeconfig: a plan host or a Node found through the API. */
interface Target {
  name: string;
  address: string;
  planHost: boolean;
  ssh: SshTarget;
}

const CONCURRENCY = 16;
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

async function eachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

function planHosts(plan: Plan): PlanHost[] {
  return [
    ...plan.oldMasters.map((h) => ({ ...h, role: 'old' as const })),
    // a kept host (in both lists) once, as the old master it is
    ...plan.newMasters.filter((h) => !plan.oldMasters.some((o) => o.name === h.name)).map((h) => ({ ...h, role: 'new' as const })),
    ...plan.workerNodes.map((h) => ({ ...h, role: 'worker' as const })),
  ];
}

export interface ClientCheckInput {
  plan: Plan;
  ops: HostOps;
  kube?: ClientCheckKube;
  /** plan hosts preflight reached over SSH (the others already have a blocker) */
  reachable: ReadonlySet<string>;
  sink: ClientCheckSink;
}

/** Runs the three client checks; returns the fixes and which Nodes were covered. */
export async function checkClients(input: ClientCheckInput): Promise<{ fixes: ClientFix[]; nodes: NodeCoverage }> {
  const fixes: ClientFix[] = [];
  const nodes = await checkKubelets(input, fixes);
  await checkControlPlaneKubeconfigs(input, fixes);
  await checkKubeProxy(input, fixes);
  return { fixes, nodes };
}

/** The plan's hosts plus every Node the API lists (unless plan.clients.nodes is 'plan'). */
async function kubeletTargets({ plan, kube, sink }: ClientCheckInput, unverified: NodeCoverage['unverified']): Promise<{ targets: Target[]; fromApi: number }> {
  const hosts = planHosts(plan);
  const targets: Target[] = hosts.map((h) => ({ name: h.name, address: h.address, planHost: true, ssh: sshTargetOf(plan, h) }));
  if (plan.clients.nodes === 'plan' || !kube?.listNodes) return { targets, fromApi: 0 };
  let listed: ListedNode[];
  try {
    listed = await kube.listNodes(plan);
  } catch (e) {
    sink.block({
      reason: Reasons.NodeListUnknown,
      subject: 'nodes',
      message: `cannot list the cluster's Nodes (only the plan's ${hosts.length} hosts were checked): ${errText(e)}`,
    });
    return { targets, fromApi: 0 };
  }
  let fromApi = 0;
  for (const n of listed) {
    if (hosts.some((h) => h.name === n.name)) continue;
    if (!n.internalIP) {
      unverified.push({ node: n.name, reason: 'the Node has no InternalIP address to reach it at' });
      continue;
    }
    fromApi++;
    targets.push({ name: n.name, address: n.internalIP, planHost: false, ssh: sshTargetOf(plan, { name: n.name, address: n.internalIP }) });
  }
  return { targets, fromApi };
}

async function checkKubelets(input: ClientCheckInput, fixes: ClientFix[]): Promise<NodeCoverage> {
  const { plan, ops, reachable, sink } = input;
  const file = plan.paths.kubeletKubeconfig;
  const lb = lbURLOf(plan);
  const unverified: NodeCoverage['unverified'] = [];
  const { targets, fromApi } = await kubeletTargets(input, unverified);
  let checked = 0;
  await eachLimited(targets, CONCURRENCY, async (t) => {
    if (t.planHost && !reachable.has(t.name)) return; // its SSH blocker is already reported
    let text: string | undefined;
    try {
      text = (await ops.readFile(t.ssh, file))?.toString('utf8');
    } catch (e) {
      if (t.planHost && !(e instanceof UnknownHostKeyError)) {
        sink.block({ reason: Reasons.KubeletConfigUnknown, subject: t.name, message: `${t.name}: cannot read ${file}: ${errText(e)}` });
        return;
      }
      if (!t.planHost && e instanceof Error && e.name === 'HostKeyMismatchError' && !(e instanceof UnknownHostKeyError)) {
        sink.block({ reason: Reasons.SshHostKeyMismatch, subject: t.name, message: `Node ${t.name} (${t.address}): ${errText(e)}` });
        return;
      }
      unverified.push({ node: t.name, reason: `${t.address}: ${errText(e)}` });
      return;
    }
    if (text === undefined) {
      if (t.planHost) sink.warn({ reason: Reasons.KubeletConfigMissing, subject: t.name, message: `${t.name}: no ${file} (no kubelet on this host?)` });
      else unverified.push({ node: t.name, reason: `${t.address}: no ${file}` });
      return;
    }
    checked++;
    const server = kubeconfigServer(text);
    if (pointsAt(server, plan.loadBalancer.vip, plan.loadBalancer.port)) return;
    const message = `${t.name}: ${file} uses server ${server ?? '(none)'}, not the LB ${lb}`;
    if (!server) {
      sink.block({ reason: Reasons.KubeletNotUsingLB, subject: t.name, message });
      return;
    }
    const fix: ClientFix = { kind: 'kubelet', node: t.name, address: t.address, planHost: t.planHost, file, from: server, to: lb };
    fixes.push(fix);
    sink.block({
      reason: Reasons.KubeletNotUsingLB,
      subject: t.name,
      message,
      fix: `on ${t.name}: sed -i "s#server: ${server}#server: ${lb}#" ${file} && ${serviceCommand(plan.clients.kubelet.service, 'restart')} (or set checkpoints.client-fixes.enabled: cpmigrate applies it after approval)`,
      fixable: true,
    });
  });
  for (const u of unverified) {
    const b = { reason: Reasons.KubeletUnverified, subject: u.node, message: `Node ${u.node}: kubelet kubeconfig unverified: ${u.reason}` };
    if (plan.clients.unverified === 'block') sink.block(b);
    else sink.warn(b);
  }
  sink.done(
    `${file} points at ${lb} on ${checked} node(s) (${targets.length - fromApi} from the plan, ${fromApi} more found through the API)` +
      `${unverified.length ? `; ${unverified.length} unverified: ${unverified.map((u) => u.node).join(', ')}` : ''}`,
  );
  return { checked, fromApi, unverified };
}

/** controller-manager and scheduler on the old masters → their local apiserver. */
async function checkControlPlaneKubeconfigs({ plan, ops, reachable, sink }: ClientCheckInput, fixes: ClientFix[]): Promise<void> {
  await Promise.all(
    plan.oldMasters
      .filter((h) => reachable.has(h.name))
      .map(async (h: Host) => {
        for (const [component, what, file] of [
          ['controllerManager', 'controller-manager', plan.paths.controllerManagerKubeconfig],
          ['scheduler', 'scheduler', plan.paths.schedulerKubeconfig],
        ] as const) {
          try {
            const text = (await ops.readFile(sshTargetOf(plan, h), file))?.toString('utf8');
            if (text === undefined) {
              sink.block({ reason: Reasons.ControlPlaneKubeconfigUnknown, subject: h.name, message: `${h.name}: no ${file} (${what} kubeconfig; plan paths)` });
              continue;
            }
            const server = kubeconfigServer(text);
            const host = server ? urlHost(server) : '';
            if (LOCAL.has(host) || host === h.address) continue;
            const message = `${h.name}: ${what} uses ${server ?? '(no server)'} (${file}), not its local apiserver (127.0.0.1 or ${h.address})`;
            if (!server) {
              sink.block({ reason: Reasons.ControlPlaneKubeconfigNotLocal, subject: h.name, message });
              continue;
            }
            const fix: ClientFix = {
              kind: 'controlplane',
              component,
              node: h.name,
              address: h.address,
              planHost: true,
              file,
              from: server,
              to: apiserverURLOf(plan, h),
            };
            fixes.push(fix);
            sink.block({ reason: Reasons.ControlPlaneKubeconfigNotLocal, subject: h.name, message, fix: describeFix(fix), fixable: true });
          } catch (e) {
            sink.block({ reason: Reasons.ControlPlaneKubeconfigUnknown, subject: h.name, message: `${h.name}: cannot read ${file}: ${errText(e)}` });
          }
        }
      }),
  );
  sink.done('controller-manager and scheduler kubeconfigs on the old masters point at the local apiserver');
}

/** The kube-proxy ConfigMap → the LB. */
async function checkKubeProxy({ plan, kube, sink }: ClientCheckInput, fixes: ClientFix[]): Promise<void> {
  const { namespace, configMap, daemonSet } = plan.clients.kubeProxy;
  const ref = `${namespace}/${configMap}`;
  const lb = lbURLOf(plan);
  if (!kube) return; // preflight already reports that it has no Kubernetes client
  try {
    const { key, server } = kube.readKubeProxyKubeconfig
      ? await kube.readKubeProxyKubeconfig(plan)
      : { key: 'kubeconfig.conf', server: await kube.readKubeProxyServer(plan) };
    if (!pointsAt(server, plan.loadBalancer.vip, plan.loadBalancer.port)) {
      const fix: ClientFix = { kind: 'kube-proxy', namespace, configMap, key, daemonSet, from: server, to: lb };
      fixes.push(fix);
      sink.block({
        reason: Reasons.KubeProxyNotUsingLB,
        subject: ref,
        message: `ConfigMap ${ref} uses server ${server}, not the LB ${lb}`,
        fix:
          `kubectl -n ${namespace} get configmap ${configMap} -o yaml | sed 's#server: ${server}#server: ${lb}#' | kubectl apply -f - && ` +
          `kubectl -n ${namespace} rollout restart daemonset ${daemonSet}`,
        fixable: true,
      });
    }
  } catch (e) {
    sink.block({ reason: Reasons.KubeProxyConfigUnknown, subject: ref, message: `cannot check the kube-proxy ConfigMap: ${errText(e)}` });
  }
  sink.done(`ConfigMap ${ref} points at ${lb}`);
}
