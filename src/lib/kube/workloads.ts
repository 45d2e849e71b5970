/** Rollout progress (kubectl's `rollout status`), kube-proxy's server from its ConfigMap, Endpoints subsets (pure). */
import { type V1DaemonSet, type V1Deployment, type CoreV1EndpointPort, type V1EndpointSubset } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

// rollout

export interface RolloutProgress {
  done: boolean;
  message: string;
  desired: number;
  updated: number;
  ready: number;
  available: number;
}

/** kubectl's `rollout status` logic for Deployments. Throws when the deadline on the server side was exceeded. */
export function deploymentProgress(d: V1Deployment): RolloutProgress {
  const name = `Deployment ${d.metadata?.namespace}/${d.metadata?.name}`;
  const s = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  const base = { desired, updated: s.updatedReplicas ?? 0, ready: s.readyReplicas ?? 0, available: s.availableReplicas ?? 0 };
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return { ...base, done: false, message: `waiting for ${name} spec update to be observed` };
  const progressing = (s.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') throw new Error(`${name} exceeded its progress deadline: ${progressing.message ?? ''}`);
  if (base.updated < desired) return { ...base, done: false, message: `${name}: ${base.updated} of ${desired} new replicas updated` };
  if ((s.replicas ?? 0) > base.updated)
    return { ...base, done: false, message: `${name}: ${(s.replicas ?? 0) - base.updated} old replicas pending termination` };
  if (base.available < base.updated) return { ...base, done: false, message: `${name}: ${base.available} of ${base.updated} updated replicas available` };
  return { ...base, done: true, message: `${name} rolled out (${base.updated}/${desired} updated and available)` };
}

/** kubectl's `rollout status` logic for DaemonSets (RollingUpdate only). */
export function daemonSetProgress(ds: V1DaemonSet): RolloutProgress {
  const name = `DaemonSet ${ds.metadata?.namespace}/${ds.metadata?.name}`;
  const s = ds.status ?? { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
  const desired = s.desiredNumberScheduled ?? 0;
  const base = { desired, updated: s.updatedNumberScheduled ?? 0, ready: s.numberReady ?? 0, available: s.numberAvailable ?? 0 };
  if ((ds.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) return { ...base, done: false, message: `waiting for ${name} spec update to be observed` };
  if (base.updated < desired) return { ...base, done: false, message: `${name}: ${base.updated} of ${desired} updated pods scheduled` };
  if (base.available < desired) return { ...base, done: false, message: `${name}: ${base.available} of ${desired} updated pods available` };
  return { ...base, done: true, message: `${name} rolled out (${base.updated}/${desired} updated and available)` };
}

// kube-proxy

/**
 * The API server URL kube-proxy uses, from its ConfigMap data: the embedded
 * kubeconfig (`kubeconfig.conf`, kubeadm layout; the current context's cluster,
 * else the first), else any `server:` line in another key.
 */
export function kubeProxyServerFromData(data: Record<string, string> | undefined): string | undefined {
  if (!data) return undefined;
  const keys = ['kubeconfig.conf', ...Object.keys(data).filter((k) => k !== 'kubeconfig.conf')];
  for (const key of keys) {
    const text = data[key];
    if (text === undefined) continue;
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch {
      doc = undefined;
    }
    const server = serverFromKubeconfigDoc(doc);
    if (server) return server;
  }
  for (const key of keys) {
    const m = /^\s*server:\s*["']?([^\s"']+)/m.exec(data[key] ?? '');
    if (m) return m[1];
  }
  return undefined;
}

function serverFromKubeconfigDoc(doc: unknown): string | undefined {
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as {
    clusters?: Array<{ name?: string; cluster?: { server?: string } }>;
    contexts?: Array<{ name?: string; context?: { cluster?: string } }>;
    'current-context'?: string;
  };
  if (!Array.isArray(d.clusters) || d.clusters.length === 0) return undefined;
  const ctx = (d.contexts ?? []).find((c) => c.name === d['current-context']);
  const cluster = d.clusters.find((c) => c.name === ctx?.context?.cluster) ?? d.clusters[0];
  return cluster?.cluster?.server;
}

// endpoints

/** Ports of all subsets, deduplicated; with `port`, every entry gets that port number. */
export function endpointsPorts(subsets: readonly V1EndpointSubset[] | undefined, port?: number): CoreV1EndpointPort[] {
  const seen = new Map<string, CoreV1EndpointPort>();
  for (const s of subsets ?? []) for (const p of s.ports ?? []) seen.set(`${p.name ?? ''}/${p.protocol ?? 'TCP'}/${p.port}`, p);
  const ports = [...seen.values()];
  if (port === undefined) return ports;
  if (ports.length === 0) return [{ port, protocol: 'TCP' }];
  const out = new Map<string, CoreV1EndpointPort>();
  for (const p of ports) out.set(`${p.name ?? ''}/${p.protocol ?? 'TCP'}`, { ...p, port });
  return [...out.values()];
}

/** The desired subsets, or undefined when `current` already has exactly these addresses and ports. */
export function endpointsSubsets(
  current: readonly V1EndpointSubset[] | undefined,
  addresses: readonly string[],
  port?: number,
): V1EndpointSubset[] | undefined {
  const ports = endpointsPorts(current, port);
  const ips = [...new Set(addresses)];
  const desired: V1EndpointSubset[] = [{ addresses: ips.map((ip) => ({ ip })), ...(ports.length ? { ports } : {}) }];
  const norm = (ss: readonly V1EndpointSubset[] | undefined): string =>
    JSON.stringify(
      (ss ?? []).map((s) => ({
        a: (s.addresses ?? []).map((a) => a.ip).sort(),
        n: (s.notReadyAddresses ?? []).map((a) => a.ip).sort(),
        p: (s.ports ?? []).map((p) => `${p.name ?? ''}/${p.protocol ?? 'TCP'}/${p.port}`).sort(),
      })),
    );
  return norm(current) === norm(desired) ? undefined : desired;
}
