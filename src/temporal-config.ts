/**
 * Where the Temporal server is: @temporalio/envconfig's standard sources (the
 * `temporal` CLI's profiles in temporal.toml — TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE picks one — and the
 * TEMPORAL_* variables over them), then the CLI's --address/--namespace/--profile
 * over everything. Validated at the edge.
 *   TEMPORAL_ADDRESS      host:port             (default localhost:7233)
 *   TEMPORAL_NAMESPACE    namespace             (default default)
 *   TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH   mTLS client pair
 *   TEMPORAL_TLS_SERVER_CA_CERT_PATH   server CA (optional)
 *   TEMPORAL_TLS_SERVER_NAME           SNI override (optional)
 *   TEMPORAL_API_KEY      API key (Temporal Cloud); implies TLS
 *   TEMPORAL_TLS=true     TLS with system roots and no client cert
 * cpmigrate's earlier names keep working: TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY,
 * TEMPORAL_TLS_CA (the same paths as the three above; both set to different
 * paths is an error).
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';

export interface TemporalSettings {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/** Command-line settings, over the environment and the profile. */
export interface ConnectionOverrides {
  address?: string;
  namespace?: string;
  profile?: string;
}

export class TemporalConfigError extends Error {
  override readonly name = 'TemporalConfigError';
}

/** cpmigrate's earlier variable -> the `temporal` CLI's (and envconfig's) name for the same path. */
const LEGACY_PATH_VARS = [
  ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
  ['TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
  ['TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'],
] as const;

function readPath(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TemporalConfigError(`${what}=${path}: cannot read (${(e as Error).message})`);
  }
}

/** The environment envconfig sees: blank values dropped, earlier names mapped; `names` records which variable set each path. */
function normalizedEnv(env: NodeJS.ProcessEnv, names: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v.trim();
  for (const [ours, cli] of LEGACY_PATH_VARS) {
    const a = out[ours];
    const b = out[cli];
    if (a && b && a !== b) throw new TemporalConfigError(`${ours}=${a} and ${cli}=${b} disagree: set one of them`);
    delete out[ours];
    if (a) out[cli] = a;
    if (a || b) names.set(cli, a ? ours : cli);
  }
  return out;
}

function dataOf(src: ConfigDataSource | undefined, what: string): Buffer | undefined {
  if (!src) return undefined;
  return 'path' in src ? readPath(what, src.path) : Buffer.from(src.data);
}

function tlsOf(profile: ClientConfigProfile, names: Map<string, string>): TLSConfig | boolean | undefined {
  const t = profile.tls;
  if (t?.disabled === true) return undefined;
  const certName = names.get('TEMPORAL_TLS_CLIENT_CERT_PATH');
  const keyName = names.get('TEMPORAL_TLS_CLIENT_KEY_PATH');
  if (Boolean(t?.clientCert) !== Boolean(t?.clientKey))
    throw new TemporalConfigError(`set both ${certName ?? 'TEMPORAL_TLS_CERT'} and ${keyName ?? 'TEMPORAL_TLS_KEY'}, or neither`);
  const ca = dataOf(t?.serverCACert, names.get('TEMPORAL_TLS_SERVER_CA_CERT_PATH') ?? 'tls.server_ca_cert_path');
  const serverNameOverride = t?.serverName || undefined;
  if (t?.clientCert && t.clientKey) {
    const crt = dataOf(t.clientCert, certName ?? 'tls.client_cert_path') as Buffer;
    const key = dataOf(t.clientKey, keyName ?? 'tls.client_key_path') as Buffer;
    return { clientCertPair: { crt, key }, serverRootCACertificate: ca, serverNameOverride };
  }
  if (ca) return { serverRootCACertificate: ca, serverNameOverride };
  if (t?.disabled === false || profile.apiKey) return true;
  return undefined;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env, overrides: ConnectionOverrides = {}): TemporalSettings {
  const names = new Map<string, string>();
  const vars = normalizedEnv(env, names);
  if (overrides.address) vars.TEMPORAL_ADDRESS = overrides.address;
  if (overrides.namespace) vars.TEMPORAL_NAMESPACE = overrides.namespace;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars, ...(overrides.profile ? { profile: overrides.profile } : {}) });
  } catch (e) {
    throw new TemporalConfigError(`Temporal client configuration (${vars.TEMPORAL_CONFIG_FILE ?? 'temporal.toml'}): ${(e as Error).message}`);
  }
  const address = profile.address?.trim() || 'localhost:7233';
  if (!/^[^:\s]+:\d+$/.test(address))
    throw new TemporalConfigError(`${overrides.address ? '--address' : 'TEMPORAL_ADDRESS'} must be host:port, got "${address}"`);
  const namespace = profile.namespace?.trim() || 'default';
  return { address, namespace, tls: tlsOf(profile, names), apiKey: profile.apiKey || undefined };
}

let cliOverrides: ConnectionOverrides = {};

/** The CLI's --address/--namespace/--profile, set once before a command runs. */
export function setConnectionOverrides(o: ConnectionOverrides): void {
  cliOverrides = { ...o };
}

/** The settings the CLI connects with: the environment and profile, under the command line's flags. */
export function cliTemporalSettings(): TemporalSettings {
  return temporalSettings(process.env, cliOverrides);
}
