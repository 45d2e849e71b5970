/** What the certificate activities share: their dependencies, the host lookup and paths under the PKI dir. */
import { PlanMismatchError } from '../../errors';
import type { HostOps } from '../../lib/hostops';
import { findHost } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';

export interface CertActivityDeps {
  hostOps: () => HostOps;
}

/** The master named in the plan; a name the plan does not have is a PlanMismatchError. */
export function masterOf(plan: Plan, name: string) {
  try {
    return findHost(plan, name);
  } catch (e) {
    throw new PlanMismatchError((e as Error).message);
  }
}

/** rel under dir ('' is dir itself). */
export function join(dir: string, rel: string): string {
  return rel ? `${dir.replace(/\/+$/, '')}/${rel}` : dir;
}
