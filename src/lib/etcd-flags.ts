/**
 * etcd command-line flags and ETCD_* environment variables as config-file keys
 * (the YAML of `etcd --config-file`). Pure.
 *
 * Most flags are their own config key (`--quota-backend-bytes` ->
 * `quota-backend-bytes`); the TLS flags live under client-transport-security /
 * peer-transport-security in the file. Values are typed the way etcd's config
 * file types them (numbers, booleans, lists for cipher-suites and log-outputs).
 */

/** flag name -> [section, key] for the TLS flags */
const TLS_FLAGS: Record<string, [string, string]> = {
  'cert-file': ['client-transport-security', 'cert-file'],
  'key-file': ['client-transport-security', 'key-file'],
  'client-cert-auth': ['client-transport-security', 'client-cert-auth'],
  'trusted-ca-file': ['client-transport-security', 'trusted-ca-file'],
  'auto-tls': ['client-transport-security', 'auto-tls'],
  'client-crl-file': ['client-transport-security', 'crl-file'],
  'peer-cert-file': ['peer-transport-security', 'cert-file'],
  'peer-key-file': ['peer-transport-security', 'key-file'],
  'peer-client-cert-auth': ['peer-transport-security', 'client-cert-auth'],
  'peer-trusted-ca-file': ['peer-transport-security', 'trusted-ca-file'],
  'peer-auto-tls': ['peer-transport-security', 'auto-tls'],
  'peer-crl-file': ['peer-transport-security', 'crl-file'],
  'peer-cert-allowed-cn': ['peer-transport-security', 'allowed-cn'],
  'peer-cert-allowed-hostname': ['peer-transport-security', 'allowed-hostname'],
};

const NUMERIC = new Set([
  'quota-backend-bytes',
  'heartbeat-interval',
  'election-timeout',
  'snapshot-count',
  'max-request-bytes',
  'max-snapshots',
  'max-wals',
  'max-txn-ops',
  'grpc-keepalive-min-time',
  'backend-batch-limit',
]);
const LISTS = new Set(['cipher-suites', 'log-outputs']);
const BOOL_FLAGS = new Set([
  'client-cert-auth',
  'peer-client-cert-auth',
  'auto-tls',
  'peer-auto-tls',
  'strict-reconfig-check',
  'enable-v2',
  'enable-pprof',
  'pre-vote',
  'force-new-cluster',
  'debug',
  'enable-grpc-gateway',
  'experimental-initial-corrupt-check',
  'experimental-enable-lease-checkpoint',
  'experimental-memory-mlock',
  'socket-reuse-port',
  'socket-reuse-address',
  'unsafe-no-fsync',
]);

/** flags that only matter to the etcd binary, not to a member's configuration */
const NOT_CONFIG = new Set(['config-file', 'version', 'help']);

export interface ParsedFlags {
  /** config-file keys (TLS keys nested) */
  config: Record<string, unknown>;
  /** --config-file, when given: etcd then ignores every other flag and ETCD_* variable */
  configFile?: string;
  /** arguments that are not flags (the binary, stray words) */
  ignored: string[];
}

function typed(key: string, raw: string | undefined): unknown {
  if (raw === undefined) return true;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (NUMERIC.has(key) && /^-?\d+$/.test(raw)) return Number(raw);
  if (LISTS.has(key))
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return raw;
}

function set(config: Record<string, unknown>, flag: string, raw: string | undefined): void {
  const tls = TLS_FLAGS[flag];
  if (tls) {
    const [section, key] = tls;
    const sec = (config[section] as Record<string, unknown> | undefined) ?? {};
    sec[key] = typed(key, raw);
    config[section] = sec;
    return;
  }
  config[flag] = typed(flag, raw);
}

/**
 * `argv` as the process got it (the binary first is fine: non-flags are listed
 * in `ignored`). `--flag=value`, `--flag value`, `-flag value` and bare boolean
 * flags are understood; a later flag wins, as in etcd. `env` (ETCD_FOO_BAR)
 * fills what no flag sets.
 */
export function etcdFlagsToConfig(argv: readonly string[], env: Readonly<Record<string, string>> = {}): ParsedFlags {
  const config: Record<string, unknown> = {};
  const ignored: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const m = /^--?([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    if (!m) {
      ignored.push(a);
      continue;
    }
    const flag = m[1] ?? '';
    let raw = m[2];
    const next = argv[i + 1];
    // "--flag value"; a boolean flag takes the next word only when it is true/false
    if (raw === undefined && next !== undefined && !next.startsWith('-') && (!BOOL_FLAGS.has(flag) || next === 'true' || next === 'false')) {
      raw = next;
      i++;
    }
    if (flag === 'config-file') {
      configFile = raw;
      continue;
    }
    if (NOT_CONFIG.has(flag)) continue;
    set(config, flag, raw);
  }
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ETCD_')) continue;
    if (k === 'ETCD_CONFIG_FILE') {
      configFile ??= v;
      continue;
    }
    const flag = k.slice(5).toLowerCase().replace(/_/g, '-');
    if (NOT_CONFIG.has(flag) || flagIsSet(config, flag)) continue;
    set(config, flag, v);
  }
  return { config, ignored, ...(configFile ? { configFile } : {}) };
}

function flagIsSet(config: Record<string, unknown>, flag: string): boolean {
  const tls = TLS_FLAGS[flag];
  if (tls) return (config[tls[0]] as Record<string, unknown> | undefined)?.[tls[1]] !== undefined;
  return config[flag] !== undefined;
}

/** NUL-separated /proc/PID/cmdline or /proc/PID/environ text as a list. */
export function splitNul(text: string): string[] {
  return text.split('\0').filter((s) => s.length > 0);
}

/** KEY=VALUE lines as a record (only ETCD_* kept). */
export function etcdEnvOf(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const i = e.indexOf('=');
    if (i > 0 && e.startsWith('ETCD_')) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}
