/**
 * The etcd 3.4 configuration file (`etcd --config-file`, YAML) of one member.
 * Pure: renders text, touches nothing.
 *
 * We own a fixed set of keys (MANAGED_KEYS); every other key of an existing
 * file (quotas, heartbeat tuning, TLS written by hand, ...) is kept as is, so
 * re-rendering never drops an operator's setting. For https URLs without TLS
 * settings in the file we add kubeadm's layout under the plan's pkiDir
 * (etcd/server.{crt,key}, etcd/peer.{crt,key}, etcd/ca.crt).
 *
 * Note: when a config file is given, etcd ignores its command-line flags and
 * environment; the file is the whole configuration.
 */
import { parse, stringify } from 'yaml';
import { sha256hex } from './digest';

export const MANAGED_KEYS = [
  'name',
  'data-dir',
  'listen-peer-urls',
  'listen-client-urls',
  'initial-advertise-peer-urls',
  'advertise-client-urls',
  'initial-cluster',
  'initial-cluster-state',
] as const;

/** Keys etcd reads only when it bootstraps an empty data dir. */
export const BOOTSTRAP_ONLY_KEYS = ['initial-cluster', 'initial-cluster-state', 'initial-cluster-token', 'initial-advertise-peer-urls'] as const;

export interface ClusterEntry {
  name: string;
  peerURLs: string[];
}

export interface EtcdConfigInput {
  name: string;
  dataDir: string;
  peerURL: string;
  clientURL: string;
  /** every member of the cluster including this one, in the order given */
  initialCluster: ClusterEntry[];
  state: 'new' | 'existing';
  /** only used with state "new" */
  token?: string;
  /** where kubeadm-style etcd certificates live, for https URLs */
  pkiDir?: string;
  /** the current file text: keys we do not manage are kept */
  existing?: string;
  /**
   * enable `pre-vote` unless the file sets it: etcd 3.4 leaves it off, so a voter
   * cut off from the network comes back with a higher term and forces an election
   * (an API gap); with pre-vote it rejoins without disrupting the leader
   */
  preVote?: boolean;
}

/** "a=http://x:2380,b=http://y:2380" (one entry per peer URL, as etcd expects). */
export function initialClusterString(entries: readonly ClusterEntry[]): string {
  const parts: string[] = [];
  for (const e of entries) {
    if (!e.name) throw new Error(`initial-cluster: a member with peer URLs ${e.peerURLs.join(',')} has no name`);
    for (const u of e.peerURLs) parts.push(`${e.name}=${u}`);
  }
  return parts.join(',');
}

export function parseConfig(text: string | undefined): Record<string, unknown> {
  if (!text || !text.trim()) return {};
  const v: unknown = parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('existing etcd config is not a YAML mapping');
  return v as Record<string, unknown>;
}

export function renderEtcdConfig(input: EtcdConfigInput): string {
  const old = parseConfig(input.existing);
  const cfg: Record<string, unknown> = {
    name: input.name,
    'data-dir': input.dataDir,
    'listen-peer-urls': input.peerURL,
    'listen-client-urls': input.clientURL,
    'initial-advertise-peer-urls': input.peerURL,
    'advertise-client-urls': input.clientURL,
    'initial-cluster': initialClusterString(input.initialCluster),
    'initial-cluster-state': input.state,
  };
  if (input.state === 'new') cfg['initial-cluster-token'] = input.token ?? 'etcd-cluster';
  const pki = input.pkiDir ?? '/etc/kubernetes/pki';
  if (input.clientURL.startsWith('https:') && old['client-transport-security'] === undefined) {
    cfg['client-transport-security'] = {
      'cert-file': `${pki}/etcd/server.crt`,
      'key-file': `${pki}/etcd/server.key`,
      'trusted-ca-file': `${pki}/etcd/ca.crt`,
      'client-cert-auth': true,
    };
  }
  if (input.peerURL.startsWith('https:') && old['peer-transport-security'] === undefined) {
    cfg['peer-transport-security'] = {
      'cert-file': `${pki}/etcd/peer.crt`,
      'key-file': `${pki}/etcd/peer.key`,
      'trusted-ca-file': `${pki}/etcd/ca.crt`,
      'client-cert-auth': true,
    };
  }
  for (const [k, v] of Object.entries(old)) {
    if (!(k in cfg)) cfg[k] = v;
  }
  if (input.preVote && cfg['pre-vote'] === undefined) cfg['pre-vote'] = true;
  return `# Written by cpmigrate. Keys other than ${MANAGED_KEYS.join(', ')} are kept when it rewrites this file.\n${stringify(cfg, { lineWidth: 0 })}`;
}

/** Top-level keys whose values differ between two config texts. */
export function changedKeys(before: string | undefined, after: string): string[] {
  const a = parseConfig(before);
  const b = parseConfig(after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/**
 * A digest of what a running member takes from its config file: every key but
 * the bootstrap-only ones, in key order. Two files with the same runtime
 * digest need no restart between them.
 */
export function runtimeDigest(text: string | undefined): string {
  const cfg = parseConfig(text);
  const runtime = Object.keys(cfg)
    .filter((k) => !(BOOTSTRAP_ONLY_KEYS as readonly string[]).includes(k))
    .sort()
    .map((k) => [k, cfg[k]]);
  return sha256hex(JSON.stringify(runtime));
}
