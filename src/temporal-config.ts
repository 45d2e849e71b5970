/**
 * Where the Temporal server is, from the environment (validated at the edge):
 *   TEMPORAL_ADDRESS      host:port             (default localhost:7233)
 *   TEMPORAL_NAMESPACE    namespace             (default default)
 *   TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY   mTLS client cert and key paths
 *   TEMPORAL_TLS_CA       server CA path (optional)
 *   TEMPORAL_TLS_SERVER_NAME   SNI override (optional)
 *   or the `temporal` CLI's names for the same paths, so one set of variables serves
 *   the worker, cpmigrate and the CLI: TEMPORAL_TLS_CLIENT_CERT_PATH,
 *   TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH
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

/** cpmigrate's variable, or the `temporal` CLI's name for it; both set to different paths is an error. */
function pathVar(env: NodeJS.ProcessEnv, ours: string, cli: string): { name: string; path: string } | undefined {
  const a = env[ours]?.trim();
  const b = env[cli]?.trim();
  if (a && b && a !== b) throw new TemporalConfigError(`${ours}=${a} and ${cli}=${b} disagree: set one of them`);
  if (a) return { name: ours, path: a };
  if (b) return { name: cli, path: b };
  return undefined;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const address = env.TEMPORAL_ADDRESS?.trim() || 'localhost:7233';
  if (!/^[^:\s]+:\d+$/.test(address)) throw new TemporalConfigError(`TEMPORAL_ADDRESS must be host:port, got "${address}"`);
  const namespace = env.TEMPORAL_NAMESPACE?.trim() || 'default';
  const cert = pathVar(env, 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = pathVar(env, 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  const ca = pathVar(env, 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  if (Boolean(cert) !== Boolean(key)) throw new TemporalConfigError(`set both ${cert?.name ?? 'TEMPORAL_TLS_CERT'} and ${key?.name ?? 'TEMPORAL_TLS_KEY'}, or neither`);
  let tls: TLSConfig | boolean | undefined;
  if (cert && key) {
    tls = {
      clientCertPair: { crt: readPath(cert.name, cert.path), key: readPath(key.name, key.path) },
      serverRootCACertificate: ca ? readPath(ca.name, ca.path) : undefined,
      serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
    };
  } else if (ca) {
    tls = { serverRootCACertificate: readPath(ca.name, ca.path), serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined };
  } else if (env.TEMPORAL_TLS === 'true' || env.TEMPORAL_API_KEY) {
    tls = true;
  }
  return { address, namespace, tls, apiKey: env.TEMPORAL_API_KEY || undefined };
}
