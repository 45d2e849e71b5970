/**
 * The pre-decommission inventory: everything that still names an old master's
 * address or name, read-only. Listed in the decommission checkpoint's details;
 * decommission waits until every reference is gone or acknowledged
 * (`cpmigrate approve ... decommission --ack REF`; src/workflows/inventory.ts).
 *
 * Read: ConfigMaps (every key) and Secrets (kubeconfig-like keys only, and
 * only their server line is shown) in kube-system, kube-public (cluster-info)
 * and the plan's kube-proxy / calico / monitoring namespaces; Endpoints and
 * EndpointSlices in every namespace; the kubelet kubeconfig of every Node the
 * plan can reach (new masters, worker nodes, and the API's other Nodes at their
 * InternalIP) over SSH; the plan's admin kubeconfig and every
 * clients.userKubeconfigs entry that is a file on the worker.
 *
 * Expected references (not to acknowledge): the `kubernetes` Service's
 * Endpoints/EndpointSlice (each old kube-apiserver leaves it when decommission
 * stops it), and the plan's monitoring Endpoints (the monitoring step replaces them).
 */
import { readFile } from 'node:fs/promises';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { HostOps } from '../lib/hostops';
import { kubeCall, kubeClients, loadKubeConfigFile, type KubeClients } from '../lib/kube';
import { kubeconfigServer } from '../lib/kubeconfig-server';
import { describeRef, looksLikeKubeconfig, refIn, unacknowledged, type OldMasterRef } from '../lib/old-master-refs';
import { expandHome } from '../lib/paths';
import type { HostIdentity } from '../lib/remap';
import { sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { beat } from '../lib/heartbeat';

export interface InventoryDeps {
  hostOps: () => HostOps;
  kubeConfig?: (plan: Plan) => KubeConfig;
}

export interface Inventory {
  refs: OldMasterRef[];
  /** what was read: "ConfigMaps in kube-system (12)", "kubelet.conf on 5 nodes", ... */
  scanned: string[];
  /** what could not be read, with why (listed, never silently skipped) */
  unreadable: string[];
  summary: string;
}

const EXPECTED_KUBERNETES = 'each old kube-apiserver removes itself from the kubernetes Service when decommission stops it';
const EXPECTED_MONITORING = 'the monitoring step replaces these addresses with the new masters';
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const errText = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0] ?? '';

export function createInventoryActivities(deps: InventoryDeps) {
  function clients(plan: Plan): KubeClients {
    const kc = deps.kubeConfig ? deps.kubeConfig(plan) : loadKubeConfigFile(plan.kubeconfig);
    return kubeClients(kc, deps.kubeConfig ? 'the kubeconfig' : `kubeconfig ${plan.kubeconfig}`);
  }

  async function configData(k: KubeClients, olds: HostIdentity[], ns: string, inv: Inventory): Promise<void> {
    try {
      const cms = await kubeCall(k, `list ConfigMaps in ${ns}`, () => k.core.listNamespacedConfigMap({ namespace: ns }));
      for (const cm of cms.items) {
        for (const [key, v] of Object.entries(cm.data ?? {})) {
          const r = refIn(`ConfigMap/${ns}/${cm.metadata?.name ?? '?'}:${key}`, v, olds);
          if (r) inv.refs.push(r);
        }
      }
      const secrets = await kubeCall(k, `list Secrets in ${ns}`, () => k.core.listNamespacedSecret({ namespace: ns }));
      let kubeconfigs = 0;
      for (const s of secrets.items) {
        for (const [key, b64] of Object.entries(s.data ?? {})) {
          const text = decode(b64);
          if (!looksLikeKubeconfig(text)) continue;
          kubeconfigs++;
          // only the server line is ever shown: the rest of a Secret is secret
          const server = kubeconfigServer(text);
          const r = refIn(`Secret/${ns}/${s.metadata?.name ?? '?'}:${key}`, text, olds, {
            line: server ? `server: ${server}` : '(a kubeconfig; its content is not shown)',
          });
          if (r) inv.refs.push(r);
        }
      }
      inv.scanned.push(`${ns}: ${cms.items.length} ConfigMaps, ${kubeconfigs} kubeconfig(s) in ${secrets.items.length} Secrets`);
    } catch (e) {
      inv.unreadable.push(`ConfigMaps/Secrets in ${ns}: ${errText(e)}`);
    }
    beat({ inventory: ns });
  }

  async function endpoints(k: KubeClients, plan: Plan, olds: HostIdentity[], inv: Inventory): Promise<void> {
    const expectedOf = (ns: string, name: string) =>
      ns === 'default' && name === 'kubernetes'
        ? EXPECTED_KUBERNETES
        : ns === plan.monitoring.namespace && name === plan.monitoring.endpoints
          ? EXPECTED_MONITORING
          : undefined;
    try {
      const eps = await kubeCall(k, 'list Endpoints', () => k.core.listEndpointsForAllNamespaces({}));
      for (const e of eps.items) {
        const ns = e.metadata?.namespace ?? '?';
        const name = e.metadata?.name ?? '?';
        const text = (e.subsets ?? [])
          .flatMap((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])])
          .map((a) => [a.ip, a.hostname, a.nodeName].filter(Boolean).join(' '))
          .join('\n');
        const expected = expectedOf(ns, name);
        const r = refIn(`Endpoints/${ns}/${name}`, text, olds, expected ? { expected } : {});
        if (r) inv.refs.push(r);
      }
      inv.scanned.push(`${eps.items.length} Endpoints`);
    } catch (e) {
      inv.unreadable.push(`Endpoints: ${errText(e)}`);
    }
    try {
      const disc = k.kc.makeApiClient(DiscoveryV1Api);
      const slices = await kubeCall(k, 'list EndpointSlices', () => disc.listEndpointSliceForAllNamespaces({}));
      for (const s of slices.items) {
        const ns = s.metadata?.namespace ?? '?';
        const name = s.metadata?.name ?? '?';
        const service = s.metadata?.labels?.['kubernetes.io/service-name'] ?? name;
        const text = (s.endpoints ?? []).map((x) => [...x.addresses, x.hostname, x.nodeName].filter(Boolean).join(' ')).join('\n');
        const expected = expectedOf(ns, service);
        const r = refIn(`EndpointSlice/${ns}/${name}`, text, olds, expected ? { expected } : {});
        if (r) inv.refs.push(r);
      }
      inv.scanned.push(`${slices.items.length} EndpointSlices`);
    } catch (e) {
      inv.unreadable.push(`EndpointSlices: ${errText(e)}`);
    }
    beat({ inventory: 'endpoints' });
  }

  async function kubelets(k: KubeClients, plan: Plan, olds: HostIdentity[], inv: Inventory): Promise<void> {
    const oldNames = new Set(plan.oldMasters.map((h) => h.name));
    const targets = new Map<string, { name: string; address: string; ssh?: Plan['newMasters'][number]['ssh'] }>();
    for (const h of [...plan.newMasters, ...plan.workerNodes]) targets.set(h.name, h);
    if (plan.clients.nodes === 'all') {
      try {
        const nodes = await kubeCall(k, 'list Nodes', () => k.core.listNode({}));
        for (const n of nodes.items) {
          const name = n.metadata?.name ?? '';
          const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
          if (!name || oldNames.has(name) || targets.has(name)) continue;
          if (ip) targets.set(name, { name, address: ip });
          else inv.unreadable.push(`kubelet/${name}: the Node has no InternalIP to reach it at`);
        }
      } catch (e) {
        inv.unreadable.push(`Nodes: ${errText(e)} (only the plan's hosts were read)`);
      }
    }
    const file = plan.paths.kubeletKubeconfig;
    let read = 0;
    const ops = deps.hostOps();
    for (const t of targets.values()) {
      try {
        const text = (await ops.readFile(sshTargetOf(plan, t), file))?.toString('utf8');
        beat({ inventory: `kubelet/${t.name}` });
        if (text === undefined) {
          inv.unreadable.push(`kubelet/${t.name}: no ${file}`);
          continue;
        }
        read++;
        const server = kubeconfigServer(text);
        const r = refIn(`kubelet/${t.name}`, text, olds, { line: server ? `${file} server: ${server}` : `${file} (content not shown)` });
        if (r) inv.refs.push(r);
      } catch (e) {
        inv.unreadable.push(`kubelet/${t.name}: ${errText(e)}`);
      }
    }
    inv.scanned.push(`${file} on ${read} of ${targets.size} node(s)`);
  }

  async function kubeconfigFiles(plan: Plan, olds: HostIdentity[], inv: Inventory): Promise<void> {
    const files = [plan.kubeconfig, ...plan.clients.userKubeconfigs.filter((p) => p.startsWith('/') || p.startsWith('~/'))];
    let read = 0;
    for (const f of [...new Set(files)]) {
      let text: string;
      try {
        text = await readFile(expandHome(f), 'utf8');
      } catch (e) {
        inv.unreadable.push(`kubeconfig ${f}: ${errText(e)}`);
        continue;
      }
      read++;
      const server = kubeconfigServer(text);
      const r = refIn(`kubeconfig/${f}`, text, olds, { line: server ? `server: ${server}` : '(content not shown)' });
      if (r) inv.refs.push(r);
    }
    inv.scanned.push(`${read} kubeconfig file(s) of the plan on the worker`);
  }

  /** Read-only: every reference to an old master the plan can see. */
  async function inventoryOldMasterRefs(plan: Plan): Promise<Inventory> {
    const olds: HostIdentity[] = plan.oldMasters.map((h) => ({ name: h.name, address: h.address }));
    const inv: Inventory = { refs: [], scanned: [], unreadable: [], summary: '' };
    const k = clients(plan);
    const namespaces = [...new Set(['kube-system', 'kube-public', plan.clients.kubeProxy.namespace, plan.calico.namespace, plan.monitoring.namespace])];
    for (const ns of namespaces) await configData(k, olds, ns, inv);
    await endpoints(k, plan, olds, inv);
    await kubelets(k, plan, olds, inv);
    await kubeconfigFiles(plan, olds, inv);
    const toAck = unacknowledged(inv.refs, new Set());
    inv.summary =
      `${inv.refs.length} reference(s) to old masters (${toAck.length} to fix or acknowledge, ${inv.refs.length - toAck.length} expected)` +
      `${inv.unreadable.length ? `; ${inv.unreadable.length} source(s) unreadable` : ''}; read ${inv.scanned.join(', ')}`;
    for (const r of inv.refs) beat({ ref: describeRef(r).slice(0, 200) });
    return inv;
  }

  return { inventoryOldMasterRefs };
}

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
