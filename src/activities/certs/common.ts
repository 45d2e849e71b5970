/** What the certificate activities share: their dependencies and paths under the PKI dir. */
import type { HostOps } from '../../lib/hostops';

export interface CertActivityDeps {
  hostOps: () => HostOps;
}

/** rel under dir ('' is dir itself). */
export function join(dir: string, rel: string): string {
  return rel ? `${dir.replace(/\/+$/, '')}/${rel}` : dir;
}
