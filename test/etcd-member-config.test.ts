/** A new member's etcd config from an old member's live config: pure, fast. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { etcdFlagsToConfig, splitNul } from '../src/lib/etcd-flags';
import { DEFAULT_QUOTA_BYTES, deriveEtcdMemberConfig, describeDerived, quotaBytesOf, remapHost } from '../src/lib/etcd-member-config';

const OLD = { name: 'oldmaster-1', address: '10.0.0.11' };
const target = {
  name: 'master-1',
  address: '10.0.0.21',
  dataDir: '/var/lib/etcd',
  peerURL: 'https://10.0.0.21:2380',
  clientURL: 'https://10.0.0.21:2379',
  initialCluster: [
    { name: 'oldmaster-1', peerURLs: ['https://10.0.0.11:2380'] },
    { name: 'master-1', peerURLs: ['https://10.0.0.21:2380'] },
  ],
  pkiDir: '/etc/kubernetes/pki',
};

const tunedFile = `# etcd of oldmaster-1, tuned by hand
name: oldmaster-1
data-dir: /data/etcd
listen-client-urls: https://10.0.0.11:2379,http://127.0.0.1:2379
advertise-client-urls: https://10.0.0.11:2379
listen-peer-urls: https://10.0.0.11:2380
initial-advertise-peer-urls: https://10.0.0.11:2380
initial-cluster: oldmaster-1=https://10.0.0.11:2380
initial-cluster-state: new
initial-cluster-token: prod-etcd
quota-backend-bytes: 8589934592 # 8 GiB: the db is 3 GiB
heartbeat-interval: 250
election-timeout: 2500
snapshot-count: 50000
auto-compaction-mode: periodic
auto-compaction-retention: "8h"
max-request-bytes: 10485760
listen-metrics-urls: http://10.0.0.11:2381,http://127.0.0.1:2381
cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
experimental-initial-corrupt-check: true
log-level: warn
force-new-cluster: false
client-transport-security:
  cert-file: /etc/etcd/pki/oldmaster-1.crt
  key-file: /etc/etcd/pki/oldmaster-1.key
  trusted-ca-file: /etc/etcd/pki/ca.crt
  client-cert-auth: true
peer-transport-security:
  cert-file: /etc/etcd/pki/peer-10.0.0.11.crt
  key-file: /etc/etcd/pki/peer-10.0.0.11.key
  trusted-ca-file: /etc/etcd/pki/ca.crt
  client-cert-auth: true
`;

describe('deriveEtcdMemberConfig', () => {
  it('carries every setting of a tuned file and changes only per-member keys', () => {
    const d = deriveEtcdMemberConfig({ host: OLD, origin: 'oldmaster-1:/etc/etcd/etcd.conf.yml', fileText: tunedFile }, target);
    const cfg = parse(d.text) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      name: 'master-1',
      'data-dir': '/var/lib/etcd',
      'listen-client-urls': 'https://10.0.0.21:2379,http://127.0.0.1:2379',
      'advertise-client-urls': 'https://10.0.0.21:2379',
      'listen-peer-urls': 'https://10.0.0.21:2380',
      'initial-advertise-peer-urls': 'https://10.0.0.21:2380',
      'initial-cluster': 'oldmaster-1=https://10.0.0.11:2380,master-1=https://10.0.0.21:2380',
      'initial-cluster-state': 'existing',
      'initial-cluster-token': 'prod-etcd',
      'quota-backend-bytes': 8589934592,
      'heartbeat-interval': 250,
      'election-timeout': 2500,
      'snapshot-count': 50000,
      'auto-compaction-mode': 'periodic',
      'auto-compaction-retention': '8h',
      'max-request-bytes': 10485760,
      'listen-metrics-urls': 'http://10.0.0.21:2381,http://127.0.0.1:2381',
      'cipher-suites': ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
      'experimental-initial-corrupt-check': true,
      'log-level': 'warn',
      'client-transport-security': {
        'cert-file': '/etc/etcd/pki/master-1.crt',
        'key-file': '/etc/etcd/pki/master-1.key',
        'trusted-ca-file': '/etc/etcd/pki/ca.crt',
      },
      'peer-transport-security': { 'cert-file': '/etc/etcd/pki/peer-10.0.0.21.crt', 'key-file': '/etc/etcd/pki/peer-10.0.0.21.key' },
    });
    expect(cfg['force-new-cluster']).toBeUndefined();
    expect(d.dropped.map((x) => x.key)).toEqual(['force-new-cluster']);
    expect(d.changed.map((c) => c.key).sort()).toEqual(
      [
        'advertise-client-urls',
        'client-transport-security',
        'data-dir',
        'initial-advertise-peer-urls',
        'initial-cluster',
        'initial-cluster-state',
        'listen-client-urls',
        'listen-metrics-urls',
        'listen-peer-urls',
        'name',
        'peer-transport-security',
      ].sort(),
    );
    expect(d.carried).toEqual(
      [
        'auto-compaction-mode',
        'auto-compaction-retention',
        'cipher-suites',
        'election-timeout',
        'experimental-initial-corrupt-check',
        'heartbeat-interval',
        'initial-cluster-token',
        'log-level',
        'max-request-bytes',
        'quota-backend-bytes',
        'snapshot-count',
      ].sort(),
    );
    // comments on carried lines survive; the old host's name is nowhere but in initial-cluster and the header
    expect(d.text).toContain('# 8 GiB: the db is 3 GiB');
    const body = d.text.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('initial-cluster:'));
    expect(body.join('\n')).not.toMatch(/oldmaster-1|10\.0\.0\.11/);
    expect(describeDerived(d, 'oldmaster-1:/etc/etcd/etcd.conf.yml')).toMatch(
      /^carried 11 settings from oldmaster-1.*quota-backend-bytes.*; set per member: name, data-dir.*; dropped: force-new-cluster/,
    );
  });

  it('is deterministic and idempotent on its own output (a retry writes the same file)', () => {
    const a = deriveEtcdMemberConfig({ host: OLD, origin: 'x', fileText: tunedFile }, target);
    const b = deriveEtcdMemberConfig({ host: OLD, origin: 'x', fileText: tunedFile }, target);
    expect(a.text).toBe(b.text);
    const self = deriveEtcdMemberConfig({ host: { name: 'master-1', address: '10.0.0.21' }, origin: 'y', fileText: a.text }, target);
    expect(parse(self.text)).toEqual(parse(a.text));
  });

  it('starts from flags when the old member runs without a config file', () => {
    const argv = splitNul(
      [
        '/usr/local/bin/etcd',
        '--name=oldmaster-1',
        '--data-dir',
        '/var/lib/etcd',
        '--listen-client-urls=https://0.0.0.0:2379',
        '--advertise-client-urls=https://10.0.0.11:2379',
        '--quota-backend-bytes=8589934592',
        '--election-timeout',
        '2500',
        '--cert-file=/etc/kubernetes/pki/etcd/server.crt',
        '--key-file=/etc/kubernetes/pki/etcd/server.key',
        '--client-cert-auth',
        '--peer-client-cert-auth=true',
        '--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt',
        '--experimental-watch-progress-notify-interval=5s',
        '',
      ].join('\0'),
    );
    const f = etcdFlagsToConfig(argv, { ETCD_SNAPSHOT_COUNT: '10000', ETCD_ELECTION_TIMEOUT: '9999', PATH: '/bin' });
    expect(f.configFile).toBeUndefined();
    expect(f.ignored).toEqual(['/usr/local/bin/etcd']);
    expect(f.config).toMatchObject({
      'quota-backend-bytes': 8589934592,
      'election-timeout': 2500,
      'snapshot-count': 10000,
      'experimental-watch-progress-notify-interval': '5s',
    });
    const d = deriveEtcdMemberConfig({ host: OLD, origin: 'oldmaster-1: flags', flags: f.config }, target);
    const cfg = parse(d.text) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      'listen-client-urls': 'https://0.0.0.0:2379',
      'listen-peer-urls': 'https://10.0.0.21:2380',
      'quota-backend-bytes': 8589934592,
      'client-transport-security': { 'cert-file': '/etc/kubernetes/pki/etcd/server.crt', 'client-cert-auth': true },
      'peer-transport-security': { 'cert-file': '/etc/kubernetes/pki/etcd/peer.crt', 'client-cert-auth': true },
    });
    expect(quotaBytesOf(cfg)).toBe(8589934592);
    expect(quotaBytesOf({})).toBe(DEFAULT_QUOTA_BYTES);
  });

  it('--config-file wins over every other flag (etcd ignores them then)', () => {
    expect(etcdFlagsToConfig(['etcd', '--config-file', '/etc/etcd/x.yml', '--name=a']).configFile).toBe('/etc/etcd/x.yml');
    expect(etcdFlagsToConfig(['etcd'], { ETCD_CONFIG_FILE: '/e.yml' }).configFile).toBe('/e.yml');
  });

  it('adds kubeadm TLS paths for https only when the source has no TLS section', () => {
    const d = deriveEtcdMemberConfig({ host: OLD, origin: 'x', fileText: 'name: oldmaster-1\nlisten-client-urls: https://10.0.0.11:2379\n' }, target);
    expect(parse(d.text)).toMatchObject({ 'client-transport-security': { 'cert-file': '/etc/kubernetes/pki/etcd/server.crt' } });
  });

  it('remaps only whole tokens of the old address and name', () => {
    expect(remapHost('http://10.0.0.11:2381,http://10.0.0.111:1', OLD, target)).toBe('http://10.0.0.21:2381,http://10.0.0.111:1');
    expect(remapHost('/pki/oldmaster-1.crt /pki/oldmaster-10.crt', OLD, target)).toBe('/pki/master-1.crt /pki/oldmaster-10.crt');
  });
});
