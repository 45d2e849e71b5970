/**
 * Kubernetes helpers for the kube activities: loading a kubeconfig, typed
 * clients, mapping API failures to errors that name the object and the API
 * reason, and pure functions (label/taint change syntax, drain classification,
 * rollout progress, kubeconfig parsing) that are unit-tested on their own.
 */
import { expandHome } from './paths';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type V1DaemonSet,
  type V1Deployment,
  type CoreV1EndpointPort,
  type V1EndpointSubset,
  type V1Pod,
  type V1Taint,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { KubeAuthError, PlanMismatchError } from '../errors';
import { checkApiServer, enforce } from './policy';

// ---------------------------------------------------------------- clients

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
  /** server URL of the current context, for messages */
  server: string;
  /** where the kubeconfig came from, for the auth hint */
  source: string;
}

export { expandHome } from './paths';

/** Load a kubeconfig file. A missing or unreadable file is a plan problem, not a transient one. */
export function loadKubeConfigFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(expandHome(path));
  } catch (err) {
    throw new PlanMismatchError(`cannot load kubeconfig ${path}: ${(err as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new PlanMismatchError(`kubeconfig ${path} has no current context/cluster`);
  // the worker policy: the admin credentials only go to allowed API addresses
  enforce((p) => checkApiServer(p, cluster.server, `kubeconfig ${path} server`));
  return kc;
}

export function kubeClients(kc: KubeConfig, source = 'the kubeconfig'): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
    server: kc.getCurrentCluster()?.server ?? '(no server)',
    source,
  };
}

/** Options that make client-node send a JSON merge patch (its default is JSON patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

// ---------------------------------------------------------------- errors

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/**
 * Thrown when an API call fails with anything but an auth error. Retryable:
 * the message names the operation, the object and the API's reason.
 */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly operation: string,
    readonly code: number | undefined,
    readonly reason: string | undefined,
    readonly apiMessage: string,
    readonly causes: readonly StatusCause[] = [],
  ) {
    super(`${operation}: ${code ?? 'no response'}${reason ? ` ${reason}` : ''}: ${apiMessage}`);
  }
}

const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function parseStatusBody(body: unknown): { reason?: string; message?: string; causes: StatusCause[] } {
  let obj: unknown = body;
  if (typeof body === 'string') {
    try {
      obj = JSON.parse(body);
    } catch {
      return { message: body.trim() || undefined, causes: [] };
    }
  }
  if (!obj || typeof obj !== 'object') return { causes: [] };
  const o = obj as { reason?: unknown; message?: unknown; details?: { causes?: unknown } };
  const causes = Array.isArray(o.details?.causes) ? (o.details.causes as StatusCause[]) : [];
  return {
    reason: typeof o.reason === 'string' ? o.reason : undefined,
    message: typeof o.message === 'string' ? o.message : undefined,
    causes,
  };
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 429: 'TooManyRequests' };

/** The error for an HTTP error status from the API server (body: a Status object, JSON text or parsed). */
export function statusError(code: number, body: unknown, operation: string, k: Pick<KubeClients, 'server' | 'source'>): Error {
  const st = parseStatusBody(body);
  const reason = st.reason ?? STATUS_TEXT[code];
  const message = st.message ?? (code === 401 ? 'the server did not accept the credentials' : 'no message');
  if (code === 401) {
    return new KubeAuthError(
      `${operation}: 401 Unauthorized from ${k.server}: the API server did not accept the credentials in ${k.source}; ` +
        `check that its client certificate/token is valid and signed by this cluster's CA (plan.kubeconfig)`,
    );
  }
  if (code === 403) {
    return new KubeAuthError(
      `${operation}: 403 Forbidden from ${k.server}: ${message}; the user in ${k.source} lacks permission ` +
        `(cpmigrate needs cluster-admin, e.g. a client certificate in group system:masters)`,
    );
  }
  return new KubeApiError(operation, code, reason, message, st.causes);
}

/**
 * Map any failure of an API call to a named error. 401/403 and TLS trust
 * failures become KubeAuthError (non-retryable: the kubeconfig must be fixed).
 */
export function toKubeError(err: unknown, operation: string, k: Pick<KubeClients, 'server' | 'source'>): Error {
  if (err instanceof KubeApiError || err instanceof KubeAuthError) return err;
  if (err instanceof ApiException) return statusError(err.code, err.body, operation, k);
  const e = err as { code?: string; message?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  const text = e?.message ?? String(err);
  if (code && TLS_TRUST_CODES.has(code)) {
    return new KubeAuthError(
      `${operation}: TLS to ${k.server} failed (${code}): ${text}; the certificate-authority data in ${k.source} ` +
        `does not match the API server's certificate (or the server address is not in its SANs)`,
    );
  }
  return new KubeApiError(operation, undefined, code, text);
}

/** Run one API call; failures become KubeAuthError or KubeApiError naming `operation`. */
export async function kubeCall<T>(k: Pick<KubeClients, 'server' | 'source'>, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(err, operation, k);
  }
}

export function apiCode(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (err instanceof ApiException) return err.code;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => apiCode(err) === 404;
export const isConflict = (err: unknown): boolean => apiCode(err) === 409;

// ---------------------------------------------------------------- labels

export interface LabelChange {
  key: string;
  /** null removes the label */
  value: string | null;
}

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label/taint key is invalid, or undefined when it is valid (Kubernetes qualified-name rules). */
export function qualifiedKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `prefix "${prefix}" must be a DNS subdomain (e.g. node-role.kubernetes.io)`;
  }
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) {
    return `name "${name}" must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_PART.test(value)) return `value "${value}" must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}

/** `kubectl label` syntax: "key=value" sets, "key-" removes. Throws PlanMismatchError on bad syntax. */
export function parseLabelChange(spec: string): LabelChange {
  const s = spec.trim();
  let change: LabelChange;
  if (s.endsWith('-') && !s.includes('=')) change = { key: s.slice(0, -1), value: null };
  else {
    const eq = s.indexOf('=');
    if (eq < 0) throw new PlanMismatchError(`invalid label change "${spec}": use key=value to set or key- to remove`);
    change = { key: s.slice(0, eq), value: s.slice(eq + 1) };
  }
  const problem = qualifiedKeyProblem(change.key) ?? (change.value !== null ? valueProblem(change.value) : undefined);
  if (problem) throw new PlanMismatchError(`invalid label change "${spec}": ${problem}`);
  return change;
}

/**
 * The merge-patch `metadata.labels` body that applies `changes` to `current`,
 * or undefined when nothing would change. Later changes win.
 */
export function labelPatch(current: Record<string, string> | undefined, changes: LabelChange[]): Record<string, string | null> | undefined {
  const want = new Map<string, string | null>();
  for (const c of changes) want.set(c.key, c.value);
  const patch: Record<string, string | null> = {};
  for (const [key, value] of want) {
    const has = current !== undefined && Object.prototype.hasOwnProperty.call(current, key);
    if (value === null ? has : !has || current?.[key] !== value) patch[key] = value;
  }
  return Object.keys(patch).length ? patch : undefined;
}

// ---------------------------------------------------------------- taints

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export type TaintChange =
  | { op: 'set'; key: string; value: string; effect: TaintEffect }
  /** effect undefined: remove every taint with this key */
  | { op: 'remove'; key: string; effect?: TaintEffect };

function parseEffect(spec: string, effect: string): TaintEffect {
  if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    throw new PlanMismatchError(`invalid taint "${spec}": effect "${effect}" must be one of ${TAINT_EFFECTS.join(', ')}`);
  }
  return effect as TaintEffect;
}

/**
 * `kubectl taint` syntax: "key=value:Effect" or "key:Effect" adds/updates the
 * taint with that key and effect; "key-" removes every taint with the key;
 * "key:Effect-" (or "key=value:Effect-", value ignored) removes that one.
 */
export function parseTaintChange(spec: string): TaintChange {
  const s = spec.trim();
  const check = (key: string): void => {
    const problem = qualifiedKeyProblem(key);
    if (problem) throw new PlanMismatchError(`invalid taint "${spec}": key ${problem}`);
  };
  if (s.endsWith('-')) {
    const body = s.slice(0, -1);
    const colon = body.lastIndexOf(':');
    const keyPart = colon >= 0 ? body.slice(0, colon) : body;
    const key = keyPart.split('=')[0] as string;
    check(key);
    return colon >= 0 ? { op: 'remove', key, effect: parseEffect(spec, body.slice(colon + 1)) } : { op: 'remove', key };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new PlanMismatchError(`invalid taint "${spec}": use key=value:Effect to add, key- or key:Effect- to remove`);
  const effect = parseEffect(spec, s.slice(colon + 1));
  const kv = s.slice(0, colon);
  const eq = kv.indexOf('=');
  const key = eq >= 0 ? kv.slice(0, eq) : kv;
  const value = eq >= 0 ? kv.slice(eq + 1) : '';
  check(key);
  const vp = valueProblem(value);
  if (vp) throw new PlanMismatchError(`invalid taint "${spec}": ${vp}`);
  return { op: 'set', key, value, effect };
}

/** Apply taint changes in order; other taints keep their order and fields. */
export function applyTaintChanges(current: readonly V1Taint[] | undefined, changes: readonly TaintChange[]): V1Taint[] {
  let taints: V1Taint[] = (current ?? []).map((t) => ({ ...t }));
  for (const c of changes) {
    if (c.op === 'remove') {
      taints = taints.filter((t) => !(t.key === c.key && (c.effect === undefined || t.effect === c.effect)));
      continue;
    }
    const i = taints.findIndex((t) => t.key === c.key && t.effect === c.effect);
    const next: V1Taint = { key: c.key, effect: c.effect, ...(c.value !== '' ? { value: c.value } : {}) };
    if (i >= 0) {
      const old = taints[i] as V1Taint;
      if ((old.value ?? '') !== c.value) taints[i] = next;
    } else taints.push(next);
  }
  return taints;
}

export function sameTaints(a: readonly V1Taint[] | undefined, b: readonly V1Taint[] | undefined): boolean {
  const norm = (ts: readonly V1Taint[] | undefined): string =>
    JSON.stringify((ts ?? []).map((t) => [t.key, t.value ?? '', t.effect, t.timeAdded ? String(t.timeAdded) : '']));
  return norm(a) === norm(b);
}

export function formatTaint(t: V1Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

// ---------------------------------------------------------------- drain

export type DrainClass = 'evict' | 'daemonSet' | 'mirror' | 'unmanaged' | 'terminating';

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

export function podRef(p: V1Pod): string {
  return `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? '?'}`;
}

/**
 * How `kubectl drain --ignore-daemonsets` treats a pod: DaemonSet-owned and
 * mirror pods stay; pods already being deleted are only waited for; pods
 * without a controller are "unmanaged" (need --force) unless they finished.
 */
export function classifyForDrain(p: V1Pod): DrainClass {
  if (p.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return 'mirror';
  const controller = (p.metadata?.ownerReferences ?? []).find((o) => o.controller);
  if (controller?.kind === 'DaemonSet') return 'daemonSet';
  if (p.metadata?.deletionTimestamp) return 'terminating';
  const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
  if (!controller && !finished) return 'unmanaged';
  return 'evict';
}

/** The PDB named in a 429 eviction answer ("The disruption budget web-pdb needs 2 healthy pods ..."). */
export function pdbFromEvictionError(err: unknown): string | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  for (const c of err.causes) {
    const m = /disruption budget (\S+)/i.exec(c.message ?? '');
    if (c.reason === 'DisruptionBudget' || m) return m?.[1] ?? c.message;
  }
  return undefined;
}

// ---------------------------------------------------------------- rollout

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
  if ((s.replicas ?? 0) > base.updated) return { ...base, done: false, message: `${name}: ${(s.replicas ?? 0) - base.updated} old replicas pending termination` };
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

// ---------------------------------------------------------------- kube-proxy

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

// ---------------------------------------------------------------- endpoints

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
