/**
 * DEV-ONLY NODE AGENT (lab and tests): stands in for kubelets, since no kubelet runs in the
 * tests. It registers Node objects (Ready, with capacity), and for pods bound
 * to its nodes it does what a kubelet would do, instantly:
 *   - marks them Running and Ready (status subresource), optionally after a delay;
 *   - completes deletions: a pod with a deletionTimestamp is deleted with
 *     gracePeriodSeconds 0 (uid precondition).
 * It runs no containers. Polls the API server (bounded interval); stop() ends it.
 */
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Node, type V1Pod, type V1Taint } from '@kubernetes/client-node';
import { sleep } from '../lib/sleep';

export interface AgentNode {
  name: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
  /** InternalIP put in node status; default 192.0.2.<n> (TEST-NET, never contacted) */
  address?: string;
  /** register as cordoned */
  unschedulable?: boolean;
}

export interface NodeAgentOptions {
  nodes: Array<string | AgentNode>;
  /** poll interval; default 250 ms */
  intervalMs?: number;
  /** a pod becomes Ready this long after the agent first sees it bound; default 0 */
  readyDelayMs?: number;
  /** print errors to stderr */
  verbose?: boolean;
  /**
   * the kubelet's state per node, asked on every pass (the lab's stand-in kubelets); when it
   * changes (`token`), the Node's Ready condition is set from it with a new heartbeat.
   * Undefined (or no hook): the Node stays Ready, as registered.
   */
  readiness?: (node: string) => Promise<NodeReadinessReport | undefined>;
}

export interface NodeReadinessReport {
  ready: boolean;
  /** changes whenever the kubelet changes (restart, other server, ready flips) */
  token: string;
  message: string;
}

export interface NodeAgentEvent {
  at: number;
  kind: 'ready' | 'deleted';
  pod: string;
  node: string;
}

export interface NodeAgent {
  nodes: string[];
  /** what the agent did, in order (pod = namespace/name) */
  events: NodeAgentEvent[];
  /** resolves after a full pass over the pods that started after this call */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

function nodeStatus(address: string, name: string, kubelet?: NodeReadinessReport): V1Node['status'] {
  const now = new Date();
  const cond = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: 'test node agent',
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  const ready = kubelet
    ? { ...cond('Ready', kubelet.ready ? 'True' : 'False', kubelet.ready ? 'KubeletReady' : 'KubeletNotReady'), message: kubelet.message }
    : cond('Ready', 'True', 'KubeletReady');
  const resources = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    capacity: resources,
    allocatable: resources,
    conditions: [
      ready,
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
    ],
    addresses: [
      { type: 'InternalIP', address },
      { type: 'Hostname', address: name },
    ],
    nodeInfo: {
      architecture: 'amd64',
      bootID: '',
      containerRuntimeVersion: 'test://0',
      kernelVersion: '',
      kubeProxyVersion: '',
      kubeletVersion: 'v0.0.0-test-agent',
      machineID: '',
      operatingSystem: 'linux',
      osImage: 'cpmigrate test node agent',
      systemUUID: '',
    },
  };
}

function isReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Register the nodes and start the agent loop. */
export async function startNodeAgent(kc: KubeConfig, opts: NodeAgentOptions): Promise<NodeAgent> {
  const core = kc.makeApiClient(CoreV1Api);
  const intervalMs = opts.intervalMs ?? 250;
  const readyDelayMs = opts.readyDelayMs ?? 0;
  const specs: AgentNode[] = opts.nodes.map((n) => (typeof n === 'string' ? { name: n } : n));
  const names = new Set(specs.map((n) => n.name));
  const events: NodeAgentEvent[] = [];
  const firstSeen = new Map<string, number>();
  let podIpSeq = 10;
  const kubeletTokens = new Map<string, string>();
  const heartbeats = new Map<string, number>();

  for (const [i, spec] of specs.entries()) {
    const address = spec.address ?? `192.0.2.${10 + i}`;
    const body: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: spec.name,
        labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...spec.labels },
      },
      spec: { ...(spec.taints ? { taints: spec.taints } : {}), ...(spec.unschedulable ? { unschedulable: true } : {}) },
    };
    try {
      await core.createNode({ body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
    const kubelet = await opts.readiness?.(spec.name);
    await core.patchNodeStatus({ name: spec.name, body: { status: nodeStatus(address, spec.name, kubelet) } }, mergePatch);
    if (kubelet) kubeletTokens.set(spec.name, kubelet.token);
    // The TaintNodesByCondition admission plugin adds not-ready on create; the node
    // lifecycle controller (not running here) would remove it once Ready.
    const n = await core.readNode({ name: spec.name });
    const taints = n.spec?.taints ?? [];
    if (taints.some((t) => t.key === NOT_READY_TAINT)) {
      const rest = taints.filter((t) => t.key !== NOT_READY_TAINT);
      await core.patchNode(
        { name: spec.name, body: { metadata: { resourceVersion: n.metadata?.resourceVersion }, spec: { taints: rest.length ? rest : null } } },
        mergePatch,
      );
    }
  }

  let stopping = false;
  let passesStarted = 0;
  let passesDone = 0;
  let waiters: Array<{ after: number; resolve: () => void }> = [];

  async function nodePass(): Promise<void> {
    if (!opts.readiness) return;
    for (const [i, spec] of specs.entries()) {
      const r = await opts.readiness(spec.name);
      // a change is reported at once; an unchanged kubelet heartbeats every 10 s (nodeStatusReportFrequency)
      if (!r || (kubeletTokens.get(spec.name) === r.token && Date.now() - (heartbeats.get(spec.name) ?? 0) < 10_000)) continue;
      await core.patchNodeStatus({ name: spec.name, body: { status: nodeStatus(spec.address ?? `192.0.2.${10 + i}`, spec.name, r) } }, mergePatch);
      kubeletTokens.set(spec.name, r.token);
      heartbeats.set(spec.name, Date.now());
    }
  }

  async function pass(): Promise<void> {
    await nodePass();
    const list = await core.listPodForAllNamespaces({});
    const now = Date.now();
    for (const p of list.items) {
      const node = p.spec?.nodeName;
      if (!node || !names.has(node)) continue;
      const ns = p.metadata?.namespace ?? 'default';
      const name = p.metadata?.name ?? '';
      const uid = p.metadata?.uid ?? '';
      const ref = `${ns}/${name}`;
      if (p.metadata?.deletionTimestamp) {
        try {
          await core.deleteNamespacedPod({ name, namespace: ns, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } } });
          events.push({ at: Date.now(), kind: 'deleted', pod: ref, node });
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code !== 404 && code !== 409) throw err;
        }
        firstSeen.delete(uid);
        continue;
      }
      if (isReady(p) || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      if (!firstSeen.has(uid)) firstSeen.set(uid, now);
      if (now - (firstSeen.get(uid) ?? now) < readyDelayMs) continue;
      const t = new Date();
      const cond = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: t });
      const hostIP = (await nodeAddress(node)) ?? '192.0.2.1';
      const podIP = `10.244.${Math.floor(podIpSeq / 250)}.${(podIpSeq % 250) + 2}`;
      podIpSeq++;
      try {
        await core.patchNamespacedPodStatus(
          {
            name,
            namespace: ns,
            body: {
              metadata: { uid },
              status: {
                phase: 'Running',
                hostIP,
                hostIPs: [{ ip: hostIP }],
                podIP,
                podIPs: [{ ip: podIP }],
                startTime: t,
                conditions: [cond('PodReadyToStartContainers'), cond('Initialized'), cond('ContainersReady'), cond('Ready'), cond('PodScheduled')],
                containerStatuses: (p.spec?.containers ?? []).map((c) => ({
                  name: c.name,
                  image: c.image ?? '',
                  imageID: '',
                  ready: true,
                  started: true,
                  restartCount: 0,
                  state: { running: { startedAt: t } },
                })),
              },
            },
          },
          mergePatch,
        );
        events.push({ at: Date.now(), kind: 'ready', pod: ref, node });
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code !== 404 && code !== 409) throw err;
      }
    }
  }

  const addrCache = new Map<string, string>();
  async function nodeAddress(node: string): Promise<string | undefined> {
    if (!addrCache.has(node)) {
      const n = await core.readNode({ name: node });
      const a = n.status?.addresses?.find((x) => x.type === 'InternalIP')?.address;
      if (a) addrCache.set(node, a);
    }
    return addrCache.get(node);
  }

  const loop = (async () => {
    while (!stopping) {
      passesStarted++;
      try {
        await pass();
      } catch (err) {
        if (opts.verbose && !stopping) process.stderr.write(`[node-agent] ${(err as Error).message.split('\n')[0]}\n`);
      }
      passesDone++;
      const due = waiters.filter((w) => passesDone >= w.after);
      waiters = waiters.filter((w) => passesDone < w.after);
      for (const w of due) w.resolve();
      if (!stopping) await sleep(intervalMs);
    }
  })();

  return {
    nodes: [...names],
    events,
    settle: () => new Promise<void>((resolve) => (stopping ? resolve() : waiters.push({ after: passesStarted + 1, resolve }))),
    async stop() {
      stopping = true;
      await loop;
      for (const w of waiters) w.resolve();
      waiters = [];
    },
  };
}
