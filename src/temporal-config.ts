/**
 * Where the Temporal server is, from the environment (validated at the edge):
 *   TEMPORAL_ADDRESS      host:port             (default localhost:7233)
 *   TEMPORAL_NAMESPACE    namespace             (default default)
 *   TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY   mTLS client cert and key paths
 *   TEMPORAL_TLS_CA       server CA path (optional)
 *   TEMPORAL_TLS_SERVER_NAME   SNI override (optional)
 *   TEMPORAL_API_KEY      API key (Temporal Cloud); implies TLS
 *   TEMPORAL_TLS=true     TLS with system roots and no client cert
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';

export interface TemporalSettings {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export class TemporalConfigError extends Error {
  override readonly name = 'TemporalConfigError';
}

function readPath(env: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TemporalConfigError(`${env}=${path}: cannot read (${(e as Error).message})`);
  }
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const address = env.TEMPORAL_ADDRESS?.trim() || 'localhost:7233';
  if (!/^[^:\s]+:\d+$/.test(address)) throw new TemporalConfigError(`TEMPORAL_ADDRESS must be host:port, got "${address}"`);
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
  const cert = env.TEMPORAL_TLS_CERT;
  const key = env.TEMPORAL_TLS_KEY;
  if (Boolean(cert) !== Boolean(key)) throw new TemporalConfigError('set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY, or neither');
  let tls: TLSConfig | boolean | undefined;
  if (cert && key) {
    tls = {
      clientCertPair: { crt: readPath('TEMPORAL_TLS_CERT', cert), key: readPath('TEMPORAL_TLS_KEY', key) },
      serverRootCACertificate: env.TEMPORAL_TLS_CA ? readPath('TEMPORAL_TLS_CA', env.TEMPORAL_TLS_CA) : undefined,
      serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
    };
  } else if (env.TEMPORAL_TLS_CA) {
    tls = { serverRootCACertificate: readPath('TEMPORAL_TLS_CA', env.TEMPORAL_TLS_CA), serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined };
  } else if (env.TEMPORAL_TLS === 'true' || env.TEMPORAL_API_KEY) {
    tls = true;
  }
  return { address, namespace, tls, apiKey: env.TEMPORAL_API_KEY || undefined };
}
