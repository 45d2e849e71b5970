/** Which pods a drain evicts, and the PDB named in a refused eviction (pure). */
import { type V1Pod } from '@kubernetes/client-node';
import { KubeApiError } from './errors';

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
