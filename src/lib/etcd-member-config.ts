/**
 * A new etcd member's config file, derived from an old member's LIVE config
 * (its config file, or its command-line flags and ETCD_* variables turned into
 * config keys). Pure.
 *
 * Only per-member keys change: name, data-dir, the advertise URLs (from the
 * plan), the listen URLs (the old host's address replaced by the new one),
 * initial-cluster and initial-cluster-state, and any other value that names
 * the old host (its address or its name, e.g. per-host certificate paths),
 * which is remapped to the new host. Everything else (quota, heartbeat and
 * election timeouts, snapshot count, auto-compaction, max request bytes,
 * metrics URLs, cipher suites, experimental flags, logging, TLS) is carried
 * as is, comments included. `force-new-cluster` and the discovery keys are
 * dropped: they would make the new member bootstrap a different cluster.
 */
import { Document, isMap, parseDocument } from 'yaml';
import { initialClusterString, type ClusterEntry } from './etcd-config';
import type { PathMeta } from './file-meta';
import { remapHost } from './remap';

export { remapHost } from './remap';

/** etcd's default --quota-backend-bytes (2 GiB) */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3;

export interface EtcdConfigSource {
  /** the member the config comes from */
  host: { name: string; address: string };
  /** where it was read, for summaries: "oldmaster-1:/etc/etcd/etcd.conf.yml" */
  origin: string;
  /** its config file text, when it runs with one */
  fileText?: string;
  /** its flags as config keys (etcdFlagsToConfig), when it runs without a file */
  flags?: Record<string, unknown>;
  /** mode and owner of its config file and directory (the new member's file gets the same) */
  meta?: PathMeta;
}

export interface EtcdMemberTarget {
  name: string;
  address: string;
  dataDir: string;
  peerURL: string;
  clientURL: string;
  initialCluster: ClusterEntry[];
  /** kubeadm-style etcd certificates for https URLs when the source has no TLS section */
  pkiDir: string;
  /**
   * enable `pre-vote` unless the source sets it: etcd 3.4 leaves it off, so a voter
   * cut off from the network comes back with a higher term and forces an election
   */
  preVote?: boolean;
}

export interface KeyChange {
  key: string;
  from: unknown;
  to: unknown;
}

export interface DerivedEtcdConfig {
  text: string;
  /** top-level keys kept exactly as the source had them */
  carried: string[];
  /** keys set or remapped for this member */
  changed: KeyChange[];
  /** keys not carried, and why */
  dropped: Array<{ key: string; why: string }>;
}

const PLAN_KEYS = ['name', 'data-dir', 'initial-advertise-peer-urls', 'advertise-client-urls', 'initial-cluster', 'initial-cluster-state'] as const;
const LISTEN_KEYS = ['listen-peer-urls', 'listen-client-urls'] as const;
const DROPPED: Record<string, string> = {
  'force-new-cluster': 'would make the new member start a one-member cluster of its own',
  discovery: 'a joining member uses initial-cluster, not discovery',
  'discovery-srv': 'a joining member uses initial-cluster, not discovery',
  'discovery-srv-name': 'a joining member uses initial-cluster, not discovery',
  'discovery-proxy': 'a joining member uses initial-cluster, not discovery',
  'discovery-fallback': 'a joining member uses initial-cluster, not discovery',
};

function remapDeep(v: unknown, from: EtcdConfigSource['host'], to: { name: string; address: string }): unknown {
  if (typeof v === 'string') return remapHost(v, from, to);
  if (Array.isArray(v)) return v.map((x) => remapDeep(x, from, to));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, remapDeep(x, from, to)]));
  return v;
}

/** The source's listen URLs on the new host; the plan's URL added unless a wildcard on its port covers it. */
function listenURLs(source: unknown, planURL: string, from: EtcdConfigSource['host'], to: { name: string; address: string }): string {
  const list =
    typeof source === 'string'
      ? source
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((u) => remapHost(u, from, to))
      : [];
  const port = (u: string) => {
    try {
      const p = new URL(u);
      return p.port || (p.protocol === 'https:' ? '443' : '80');
    } catch {
      return '';
    }
  };
  const wildcard = list.some((u) => /^\w+:\/\/(0\.0\.0\.0|\[::\])(:|\/|$)/.test(u) && port(u) === port(planURL));
  if (!wildcard && !list.includes(planURL)) list.unshift(planURL);
  return list.join(',');
}

function sourceObject(src: EtcdConfigSource): { doc: Document; obj: Record<string, unknown> } {
  if (src.fileText !== undefined && src.fileText.trim()) {
    // the source's leading comment describes the source host (or is our own earlier header): not carried
    const doc = parseDocument(src.fileText.replace(/^(?:[ \t]*(?:#[^\n]*)?\n)+/, ''));
    if (doc.errors.length) throw new Error(`${src.origin}: not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    if (!isMap(doc.contents)) throw new Error(`${src.origin}: not a YAML mapping`);
    return { doc, obj: doc.toJS() as Record<string, unknown> };
  }
  const obj = { ...(src.flags ?? {}) };
  return { doc: new Document(obj), obj };
}

export function deriveEtcdMemberConfig(src: EtcdConfigSource, m: EtcdMemberTarget): DerivedEtcdConfig {
  const { doc, obj } = sourceObject(src);
  const to = { name: m.name, address: m.address };
  const changed: KeyChange[] = [];
  const dropped: DerivedEtcdConfig['dropped'] = [];
  const put = (key: string, value: unknown) => {
    if (JSON.stringify(obj[key]) !== JSON.stringify(value)) changed.push({ key, from: obj[key], to: value });
    doc.set(key, value);
  };

  const planned: Record<(typeof PLAN_KEYS)[number], string> = {
    name: m.name,
    'data-dir': m.dataDir,
    'initial-advertise-peer-urls': m.peerURL,
    'advertise-client-urls': m.clientURL,
    'initial-cluster': initialClusterString(m.initialCluster),
    'initial-cluster-state': 'existing',
  };
  for (const k of PLAN_KEYS) put(k, planned[k]);
  put('listen-peer-urls', listenURLs(obj['listen-peer-urls'], m.peerURL, src.host, to));
  put('listen-client-urls', listenURLs(obj['listen-client-urls'], m.clientURL, src.host, to));

  const handled = new Set<string>([...PLAN_KEYS, ...LISTEN_KEYS]);
  const carried: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (handled.has(key)) continue;
    if (key in DROPPED) {
      doc.delete(key);
      dropped.push({ key, why: DROPPED[key] ?? '' });
      continue;
    }
    const mapped = remapDeep(value, src.host, to);
    if (JSON.stringify(mapped) !== JSON.stringify(value)) put(key, mapped);
    else carried.push(key);
  }

  if (m.preVote && obj['pre-vote'] === undefined) put('pre-vote', true);

  // https without TLS settings in the source: kubeadm's layout (as renderEtcdConfig)
  const pki = m.pkiDir.replace(/\/+$/, '');
  if (m.clientURL.startsWith('https:') && obj['client-transport-security'] === undefined) {
    put('client-transport-security', {
      'cert-file': `${pki}/etcd/server.crt`,
      'key-file': `${pki}/etcd/server.key`,
      'trusted-ca-file': `${pki}/etcd/ca.crt`,
      'client-cert-auth': true,
    });
  }
  if (m.peerURL.startsWith('https:') && obj['peer-transport-security'] === undefined) {
    put('peer-transport-security', {
      'cert-file': `${pki}/etcd/peer.crt`,
      'key-file': `${pki}/etcd/peer.key`,
      'trusted-ca-file': `${pki}/etcd/ca.crt`,
      'client-cert-auth': true,
    });
  }

  doc.commentBefore =
    ` etcd member ${m.name}, written by cpmigrate from the live config of ${src.host.name} (${src.origin}).\n` +
    ` Set for ${m.name}: ${[...PLAN_KEYS, ...LISTEN_KEYS].join(', ')} and values naming ${src.host.name}; every other setting is carried.`;
  return { text: doc.toString({ lineWidth: 0 }), carried: carried.sort(), changed, dropped };
}

/** The source's settings as config keys (its file parsed, or its flags). */
export function sourceSettings(src: EtcdConfigSource): Record<string, unknown> {
  return sourceObject(src).obj;
}

/** quota-backend-bytes of a config (etcd's default when unset or 0). */
export function quotaBytesOf(config: Record<string, unknown>): number {
  const q = Number(config['quota-backend-bytes'] ?? 0);
  return Number.isFinite(q) && q > 0 ? q : DEFAULT_QUOTA_BYTES;
}

/** One line for a step summary: what was carried, what was set, what was dropped. */
export function describeDerived(d: DerivedEtcdConfig, from: string): string {
  const parts = [
    `carried ${d.carried.length} settings from ${from}${d.carried.length ? ` (${d.carried.join(', ')})` : ''}`,
    `set per member: ${d.changed.map((c) => c.key).join(', ') || 'nothing'}`,
  ];
  if (d.dropped.length) parts.push(`dropped: ${d.dropped.map((x) => `${x.key} (${x.why})`).join(', ')}`);
  return parts.join('; ');
}
