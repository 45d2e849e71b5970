/**
 * copyPki, reissueApiserverCert and issueEtcdMemberCerts against two real sshd
 * "hosts" (127.0.2.11 = oldmaster-1, also answering as oldmaster-2/-3 on
 * 127.0.2.13/.14; 127.0.2.12 = master-1). Each sshd runs in its own
 * mount namespace with its own directory bind-mounted over the plan's pkiDir,
 * so both hosts have /tmp/…/pki with different contents. Results are checked
 * with the openssl CLI.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertActivities } from '../src/activities/certs';
import { PlanMismatchError, UnsafeOperationError } from '../src/errors';
import { SshHostOps } from '../src/lib/ssh';
import { issueEtcdMemberCert, reissueServingCert } from '../src/activities/certs/policies';
import { inspectServingCert } from '../src/lib/x509';
import type { Plan } from '../src/plan/schema';
import { validatePlan } from '../src/plan/load';
import { makeEtcdCa, makeKubePki, openssl } from './support/pki';
import { sshKeygen, startSshd, testPlanDoc, type TestSshd } from './support/sshd';

const OLD_SANS = [
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
  'IP:10.254.0.1',
  'IP:127.0.2.11',
  'IP:127.0.2.13',
  'IP:127.0.2.14',
];

let root: string;
let mnt: string;
let pkiOld: string;
let pkiNew: string;
let oldHost: TestSshd;
let newHost: TestSshd;
let ops: SshHostOps;
let plan: Plan;
let acts: ReturnType<typeof createCertActivities>;

async function listTree(dir: string, rel = ''): Promise<Array<{ rel: string; mode: number; sha: string }>> {
  const out: Array<{ rel: string; mode: number; sha: string }> = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(dir, r)));
    else {
      const buf = await readFile(path.join(dir, r));
      out.push({ rel: r, mode: (await stat(path.join(dir, r))).mode & 0o7777, sha: createHash('sha256').update(buf).digest('hex') });
    }
  }
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'cpm-certs-'));
  mnt = path.join(root, 'pki'); // the plan's pkiDir: a mount point, different per host
  pkiOld = path.join(root, 'host-old');
  pkiNew = path.join(root, 'host-new');
  const { mkdir } = await import('node:fs/promises');
  await Promise.all([mkdir(mnt), mkdir(pkiNew)]);
  const t0 = Date.now();
  await makeKubePki(pkiOld, { apiserverSANs: OLD_SANS });
  console.log(`[timing] openssl test PKI: ${Date.now() - t0} ms`);
  const clientKey = path.join(root, 'id_ed25519');
  await sshKeygen(clientKey);
  [oldHost, newHost] = await Promise.all([
    // oldmaster-2/-3 are the same sshd (same files): every old master answers
    startSshd({
      address: '127.0.2.11',
      extraAddresses: ['127.0.2.13', '127.0.2.14'],
      name: 'oldmaster-1',
      clientKeyPath: clientKey,
      bindMounts: [{ source: pkiOld, target: mnt }],
    }),
    startSshd({ address: '127.0.2.12', name: 'master-1', clientKeyPath: clientKey, bindMounts: [{ source: pkiNew, target: mnt }] }),
  ]);
  const v = validatePlan(
    testPlanDoc({
      defaultsSsh: { privateKeyPath: clientKey, knownHostsPath: path.join(root, 'known_hosts') },
      oldMasters: [
        { name: 'oldmaster-1', address: '127.0.2.11', ssh: { port: oldHost.port, hostKeyFingerprint: oldHost.fingerprint } },
        { name: 'oldmaster-2', address: '127.0.2.13', ssh: { port: oldHost.port, hostKeyFingerprint: oldHost.fingerprint } },
        { name: 'oldmaster-3', address: '127.0.2.14', ssh: { port: oldHost.port, hostKeyFingerprint: oldHost.fingerprint } },
      ],
      newMasters: [
        { name: 'master-1', address: '127.0.2.12', ssh: { port: newHost.port, hostKeyFingerprint: newHost.fingerprint } },
        { name: 'master-2', address: '127.0.2.15' },
        { name: 'master-3', address: '127.0.2.16' },
      ],
      extra: {
        paths: { pkiDir: mnt },
        apiserver: { service: { type: 'commands', start: 'true', stop: 'true', status: 'true' }, extraSANs: ['api.test-lab.example', '10.254.0.1'] },
      },
    }),
  );
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  plan = v.plan;
  ops = new SshHostOps();
  acts = createCertActivities({ hostOps: () => ops });
});

afterAll(async () => {
  await ops?.close();
  await Promise.all([oldHost?.stop(), newHost?.stop()]);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('copyPki', () => {
  it('copies every file (subdirs, modes) from an old master to a new one, then is a no-op', async () => {
    // the old master's own etcd serving/peer pairs (SANs = its address): never to be copied
    const ETCD_PER_HOST = ['etcd/peer.crt', 'etcd/peer.key', 'etcd/server.crt', 'etcd/server.key'];
    for (const f of ETCD_PER_HOST) await writeFile(path.join(pkiOld, f), `oldmaster-1 ${f}\n`, { mode: f.endsWith('.key') ? 0o600 : 0o644 });
    const t0 = Date.now();
    const first = await acts.copyPki(plan, 'oldmaster-1', 'master-1');
    console.log(`[timing] copyPki (first, ${first.details?.files} files): ${Date.now() - t0} ms`);
    const src = await listTree(pkiOld);
    expect(src.map((f) => f.rel)).toEqual([
      'apiserver.crt',
      'apiserver.key',
      'ca.crt',
      'ca.key',
      'etcd/ca.crt',
      'etcd/ca.key',
      ...ETCD_PER_HOST,
      'front-proxy-ca.crt',
      'front-proxy-ca.key',
      'sa.key',
      'sa.pub',
    ]);
    const shared = src.filter((f) => !ETCD_PER_HOST.includes(f.rel));
    expect(first).toMatchObject({ changed: true, details: { copied: 10, unchanged: 0, keptPerHost: [], missingPerHost: ETCD_PER_HOST } });
    expect(first.summary).toContain('10 copied');
    expect(first.summary).toContain('4 per-host missing on master-1, not copied (etcd/peer.crt, etcd/peer.key, etcd/server.crt, etcd/server.key)');
    expect(await listTree(pkiNew)).toEqual(shared);
    expect((await stat(path.join(pkiNew, 'ca.key'))).mode & 0o7777).toBe(0o600);
    expect((await stat(path.join(pkiNew, 'etcd'))).mode & 0o7777).toBe(0o750);

    // master-1's own etcd pairs, provisioned on it (e.g. kubeadm init phase certs etcd-server / etcd-peer)
    for (const f of ETCD_PER_HOST) await writeFile(path.join(pkiNew, f), `master-1 ${f}\n`, { mode: f.endsWith('.key') ? 0o600 : 0o644 });
    const mine = await listTree(pkiNew);
    const t1 = Date.now();
    const again = await acts.copyPki(plan, 'oldmaster-1', 'master-1');
    console.log(`[timing] copyPki (no-op re-run): ${Date.now() - t1} ms`);
    // apiserver.crt/.key and the etcd server/peer pairs are per-host: present now, so kept (not even compared)
    expect(again).toMatchObject({
      changed: false,
      details: { copied: 0, unchanged: 8, keptPerHost: ['apiserver.crt', 'apiserver.key', ...ETCD_PER_HOST], missingPerHost: [] },
    });
    expect(await listTree(pkiNew)).toEqual(mine);
    for (const f of ETCD_PER_HOST) expect(await readFile(path.join(pkiNew, f), 'utf8')).toBe(`master-1 ${f}\n`);
    // the summary never carries key material
    expect(JSON.stringify([first, again])).not.toMatch(/PRIVATE KEY/);
  });
});

describe('copyPki onto a host with another PKI', () => {
  it('replaces a foreign CA and apiserver pair (keeping backups) instead of keeping them', async () => {
    await makeKubePki(path.join(pkiOld, 'alt'), { apiserverSANs: ['IP:127.0.2.11'], minimal: true });
    await makeKubePki(path.join(pkiNew, 'alt'), { apiserverSANs: ['IP:127.0.2.12'], minimal: true });
    const alt = { ...plan, paths: { ...plan.paths, pkiDir: path.join(mnt, 'alt') } };
    const foreignCrt = await readFile(path.join(pkiNew, 'alt', 'apiserver.crt'), 'utf8');
    const out = await acts.copyPki(alt, 'oldmaster-1', 'master-1');
    expect(out).toMatchObject({ changed: true, details: { copied: 4, keptPerHost: [] } });
    for (const f of ['ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key']) {
      expect(await readFile(path.join(pkiNew, 'alt', f), 'utf8')).toBe(await readFile(path.join(pkiOld, 'alt', f), 'utf8'));
    }
    expect(out.details?.backups).toHaveLength(4);
    const bak = (await readdir(path.join(pkiNew, 'alt'))).find((n) => n.startsWith('apiserver.crt.cpmigrate-bak-'));
    expect(bak && (await readFile(path.join(pkiNew, 'alt', bak), 'utf8'))).toBe(foreignCrt);
    await rm(path.join(pkiOld, 'alt'), { recursive: true });
  });
});

describe('reissueApiserverCert', () => {
  it('issues a CA-signed cert with the old and new SANs and a new key, installs it with backups, then is a no-op', async () => {
    const oldCert = await readFile(path.join(pkiNew, 'apiserver.crt'), 'utf8');
    const oldKey = await readFile(path.join(pkiNew, 'apiserver.key'), 'utf8');
    const t0 = Date.now();
    const out = await acts.reissueApiserverCert(plan, 'master-1');
    console.log(`[timing] reissueApiserverCert: ${Date.now() - t0} ms`);
    expect(out.changed).toBe(true);
    expect(out.summary).toMatch(/re-issued/);
    expect(JSON.stringify(out)).not.toMatch(/PRIVATE KEY/);

    const crt = path.join(pkiNew, 'apiserver.crt');
    const key = path.join(pkiNew, 'apiserver.key');
    expect((await openssl(['verify', '-CAfile', path.join(pkiNew, 'ca.crt'), crt])).trim()).toBe(`${crt}: OK`);
    const text = await openssl(['x509', '-in', crt, '-noout', '-text']);
    const sanLine = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(text)?.[1] ?? '';
    const sans = sanLine.split(', ').map((s) => s.replace('IP Address:', 'IP:').trim());
    for (const s of [...OLD_SANS, 'IP:127.0.2.12', 'IP:127.0.2.15', 'IP:127.0.2.16', 'IP:127.0.2.20', 'DNS:api.test-lab.example']) expect(sans).toContain(s);
    expect(sans.filter((s) => s === 'IP:10.254.0.1')).toHaveLength(1);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    const caSki = /X509v3 Subject Key Identifier:\s*\n\s*(\S+)/.exec(await openssl(['x509', '-in', path.join(pkiNew, 'ca.crt'), '-noout', '-text']))?.[1];
    expect(/X509v3 Authority Key Identifier:\s*\n\s*(?:keyid:)?(\S+)/.exec(text)?.[1]).toBe(caSki);
    expect(text).toMatch(/Public-Key: \(2048 bit\)/);

    // subject unchanged, serial new
    const subj = (f: string) => openssl(['x509', '-in', f, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(await subj(crt)).toBe(await subj(path.join(pkiOld, 'apiserver.crt')));
    expect((await openssl(['x509', '-in', crt, '-noout', '-serial'])).trim()).not.toBe('serial=1001');

    // validity ~1 year from now
    const dates = await openssl(['x509', '-in', crt, '-noout', '-startdate', '-enddate']);
    const notBefore = new Date(/notBefore=(.*)/.exec(dates)?.[1] ?? '');
    const notAfter = new Date(/notAfter=(.*)/.exec(dates)?.[1] ?? '');
    // five minutes of clock-skew slack, but never before the CA itself
    const caStart = new Date(/notBefore=(.*)/.exec(await openssl(['x509', '-in', path.join(pkiNew, 'ca.crt'), '-noout', '-startdate']))?.[1] ?? '');
    expect(Math.abs(notBefore.getTime() - Math.max(Date.now() - 5 * 60_000, caStart.getTime()))).toBeLessThan(120_000);
    expect(Math.abs(notAfter.getTime() - (Date.now() + 365 * 86400_000))).toBeLessThan(120_000);

    // a new key that matches the new cert
    const newKey = await readFile(key, 'utf8');
    expect(newKey).not.toBe(oldKey);
    expect(newKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect((await stat(key)).mode & 0o7777).toBe(0o600);
    const certPub = await openssl(['x509', '-in', crt, '-noout', '-pubkey']);
    expect(await openssl(['pkey', '-in', key, '-pubout'])).toBe(certPub);
    expect(await openssl(['x509', '-in', path.join(pkiOld, 'apiserver.crt'), '-noout', '-pubkey'])).not.toBe(certPub);

    // the previous pair is kept as backups
    const names = await readdir(pkiNew);
    const bakCrt = names.find((n) => n.startsWith('apiserver.crt.cpmigrate-bak-'));
    const bakKey = names.find((n) => n.startsWith('apiserver.key.cpmigrate-bak-'));
    expect(bakCrt && (await readFile(path.join(pkiNew, bakCrt), 'utf8'))).toBe(oldCert);
    expect(bakKey && (await readFile(path.join(pkiNew, bakKey), 'utf8'))).toBe(oldKey);
    expect(out.details?.backups).toHaveLength(2);

    // re-running keeps it
    const issuedCert = await readFile(crt, 'utf8');
    const again = await acts.reissueApiserverCert(plan, 'master-1');
    expect(again.changed).toBe(false);
    expect(again.summary).toMatch(/already fits/);
    expect(await readFile(crt, 'utf8')).toBe(issuedCert);
    expect(await readFile(key, 'utf8')).toBe(newKey);

    // and copying the PKI again does not undo it
    const recopy = await acts.copyPki(plan, 'oldmaster-1', 'master-1');
    expect(recopy.changed).toBe(false);
    expect(await readFile(key, 'utf8')).toBe(newKey);
    expect(await readFile(crt, 'utf8')).toBe(issuedCert);
  });

  it('refuses old masters', async () => {
    await expect(acts.reissueApiserverCert(plan, 'oldmaster-1')).rejects.toBeInstanceOf(UnsafeOperationError);
    await expect(acts.reissueApiserverCert(plan, 'oldmaster-1')).rejects.toThrow(/old master/);
    await expect(acts.copyPki(plan, 'master-1', 'oldmaster-1')).rejects.toBeInstanceOf(UnsafeOperationError);
    // untouched
    expect((await readdir(pkiOld)).filter((n) => n.includes('cpmigrate'))).toEqual([]);
  });

  it('says what is missing when the PKI was not copied yet', async () => {
    const empty = { ...plan, paths: { ...plan.paths, pkiDir: path.join(mnt, 'nowhere') } };
    await expect(acts.reissueApiserverCert(empty, 'master-1')).rejects.toThrow(/ca\.crt.*missing.*copyPki/);
    await expect(acts.copyPki(empty, 'oldmaster-1', 'master-1')).rejects.toThrow(/does not exist/);
  });
});

describe('x509 (no SSH)', () => {
  it('re-issues EC certificates with an EC key, caps validity at the CA, and flags expiring ones', async () => {
    const dir = path.join(root, 'ec');
    await makeKubePki(dir, { apiserverSANs: ['DNS:kubernetes', 'IP:10.0.0.1'], keyType: 'ec', caDays: 200, apiserverDays: 10, minimal: true });
    const read = (n: string) => readFile(path.join(dir, n), 'utf8');
    const status = await inspectServingCert({
      certPem: await read('apiserver.crt'),
      keyPem: await read('apiserver.key'),
      caCertPem: await read('ca.crt'),
      requiredSANs: ['10.0.0.1'],
    });
    expect(status.ok).toBe(false);
    expect(status.problems.join('; ')).toMatch(/within 30 days/);
    expect(status.missingSANs).toEqual([]);

    const issued = await reissueServingCert({
      certPem: await read('apiserver.crt'),
      caCertPem: await read('ca.crt'),
      caKeyPem: await read('ca.key'),
      requiredSANs: ['10.0.0.2', 'api.example'],
    });
    expect(issued.keyAlgorithm).toBe('ECDSA P-256');
    expect(issued.keyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(issued.addedSANs).toEqual(['IP:10.0.0.2', 'DNS:api.example']);
    const caEnd = new Date(/notAfter=(.*)/.exec(await openssl(['x509', '-in', path.join(dir, 'ca.crt'), '-noout', '-enddate']))?.[1] ?? '');
    expect(new Date(issued.notAfter).getTime()).toBe(caEnd.getTime());
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'new.crt'), issued.certPem);
    expect((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'new.crt')])).trim()).toMatch(/: OK$/);
    const again = await inspectServingCert({
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      caCertPem: await read('ca.crt'),
      requiredSANs: ['10.0.0.2', 'api.example'],
    });
    expect(again).toMatchObject({ ok: true, problems: [] });

    // a certificate from another CA is not accepted as-is
    const other = path.join(root, 'other');
    await makeKubePki(other, { apiserverSANs: ['IP:10.0.0.1'], minimal: true });
    const foreign = await inspectServingCert({
      certPem: await readFile(path.join(other, 'apiserver.crt'), 'utf8'),
      keyPem: await readFile(path.join(other, 'apiserver.key'), 'utf8'),
      caCertPem: await read('ca.crt'),
      requiredSANs: [],
    });
    expect(foreign.problems.join('; ')).toMatch(/not signed by the cluster CA/);
    // and a CA about to expire is refused
    await expect(
      reissueServingCert({
        certPem: await read('apiserver.crt'),
        caCertPem: await read('ca.crt'),
        caKeyPem: await read('ca.key'),
        requiredSANs: [],
        now: new Date(caEnd.getTime() - 5 * 86400_000),
      }),
    ).rejects.toThrow(/renew the CA/);
  });
});

describe('issueEtcdMemberCerts', () => {
  /** etcd over TLS, PKI in <mnt>/etcdtls: the old masters hold etcd/ca.*, master-1 nothing yet */
  let tls: Plan;
  const ETCD_DNS = 'master-1.etcd.test-lab.example';

  beforeAll(async () => {
    await makeEtcdCa(path.join(pkiOld, 'etcdtls'));
    const https = (h: Plan['newMasters'][number]) => ({
      ...h,
      etcd: { ...h.etcd, clientURL: `https://${h.name === 'master-1' ? ETCD_DNS : h.address}:2379`, peerURL: `https://${h.address}:2380` },
    });
    tls = {
      ...plan,
      paths: { ...plan.paths, pkiDir: path.join(mnt, 'etcdtls') },
      oldMasters: plan.oldMasters.map(https),
      newMasters: plan.newMasters.map(https),
    };
  });

  const SANS = ['DNS:master-1', 'DNS:localhost', 'IP:127.0.2.12', 'IP:127.0.0.1', 'IP:0:0:0:0:0:0:0:1'];

  async function certText(file: string) {
    const text = await openssl(['x509', '-in', file, '-noout', '-text']);
    const sanLine = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(text)?.[1] ?? '';
    return { text, sans: sanLine.split(', ').map((s) => s.replace('IP Address:', 'IP:').trim()) };
  }

  it('issues server and peer certificates from the etcd CA, installs etcd/ca.crt (not ca.key), then is a no-op', async () => {
    const etcdNew = path.join(pkiNew, 'etcdtls', 'etcd');
    const t0 = Date.now();
    const out = await acts.issueEtcdMemberCerts(tls, 'master-1');
    console.log(`[timing] issueEtcdMemberCerts (issue): ${Date.now() - t0} ms`);
    expect(out).toMatchObject({
      changed: true,
      details: { caFrom: 'oldmaster-1', issued: ['etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key'], kept: [], caInstalled: true },
    });
    expect(out.summary).toMatch(
      /^master-1: etcd server and peer certificates issued by the etcd CA of oldmaster-1 \(server SANs DNS:master-1, DNS:localhost, IP:127\.0\.2\.12, IP:127\.0\.0\.1, IP:::1, DNS:master-1\.etcd\.test-lab\.example; peer SANs /,
    );
    expect(out.summary).toContain('etcd/ca.crt installed');
    expect(JSON.stringify(out)).not.toMatch(/PRIVATE KEY|BEGIN/);

    // the member trusts the etcd CA; the CA key stays on the old masters
    expect(await readFile(path.join(etcdNew, 'ca.crt'), 'utf8')).toBe(await readFile(path.join(pkiOld, 'etcdtls/etcd/ca.crt'), 'utf8'));
    expect((await stat(path.join(etcdNew, 'ca.crt'))).mode & 0o7777).toBe(0o644);
    await expect(stat(path.join(etcdNew, 'ca.key'))).rejects.toThrow(/ENOENT/);

    const caSki = /X509v3 Subject Key Identifier:\s*\n\s*(\S+)/.exec(await openssl(['x509', '-in', path.join(etcdNew, 'ca.crt'), '-noout', '-text']))?.[1];
    for (const u of ['server', 'peer'] as const) {
      const crt = path.join(etcdNew, `${u}.crt`);
      const key = path.join(etcdNew, `${u}.key`);
      expect((await openssl(['verify', '-CAfile', path.join(etcdNew, 'ca.crt'), crt])).trim()).toBe(`${crt}: OK`);
      const { text, sans } = await certText(crt);
      expect(text).toMatch(/Subject: CN ?= ?master-1\n/);
      expect(text).toMatch(/Issuer: CN ?= ?etcd-ca\n/);
      expect(sans).toEqual(u === 'server' ? [...SANS, `DNS:${ETCD_DNS}`] : SANS);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication, TLS Web Client Authentication\n/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature, Key Encipherment\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
      expect(text).toMatch(/X509v3 Subject Key Identifier/);
      expect(/X509v3 Authority Key Identifier:\s*\n\s*(?:keyid:)?(\S+)/.exec(text)?.[1]).toBe(caSki);
      expect(text).toMatch(/Public-Key: \(2048 bit\)/);
      const end = new Date(/notAfter=(.*)/.exec(await openssl(['x509', '-in', crt, '-noout', '-enddate']))?.[1] ?? '');
      expect(Math.abs(end.getTime() - (Date.now() + 365 * 86400_000))).toBeLessThan(120_000);
      // a fresh key, PKCS#1 like kubeadm, 0600, matching the certificate
      expect(await readFile(key, 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
      expect((await stat(key)).mode & 0o7777).toBe(0o600);
      expect((await stat(crt)).mode & 0o7777).toBe(0o644);
      expect(await openssl(['pkey', '-in', key, '-pubout'])).toBe(await openssl(['x509', '-in', crt, '-noout', '-pubkey']));
    }
    expect(await readFile(path.join(etcdNew, 'server.key'), 'utf8')).not.toBe(await readFile(path.join(etcdNew, 'peer.key'), 'utf8'));

    // re-running keeps everything
    const before = await listTree(etcdNew);
    const again = await acts.issueEtcdMemberCerts(tls, 'master-1');
    expect(again).toMatchObject({
      changed: false,
      details: { issued: [], kept: ['etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key'], caInstalled: false },
    });
    expect(again.summary).toMatch(/^master-1: etcd server and peer certificates already valid \(etcd CA of oldmaster-1; /);
    expect(await listTree(etcdNew)).toEqual(before);

    // a pair that does not match (the server certificate over peer.crt) is replaced, with backups; server is kept
    const oldPeerKey = await readFile(path.join(etcdNew, 'peer.key'), 'utf8');
    const serverCert = await readFile(path.join(etcdNew, 'server.crt'), 'utf8');
    await copyFile(path.join(etcdNew, 'server.crt'), path.join(etcdNew, 'peer.crt'));
    const fix = await acts.issueEtcdMemberCerts(tls, 'master-1');
    expect(fix).toMatchObject({
      changed: true,
      details: { issued: ['etcd/peer.crt', 'etcd/peer.key'], kept: ['etcd/server.crt', 'etcd/server.key'], caInstalled: false },
    });
    expect(fix.summary).toMatch(/etcd peer certificate issued by the etcd CA of oldmaster-1, server certificate already valid/);
    expect((fix.details?.reasons as Record<string, string[]>).peer?.join('; ')).toMatch(/private key does not match/);
    expect(fix.details?.backups).toHaveLength(2);
    const peerCrt = path.join(etcdNew, 'peer.crt');
    expect((await openssl(['verify', '-CAfile', path.join(etcdNew, 'ca.crt'), peerCrt])).trim()).toBe(`${peerCrt}: OK`);
    expect((await certText(peerCrt)).sans).toEqual(SANS);
    expect(await openssl(['pkey', '-in', path.join(etcdNew, 'peer.key'), '-pubout'])).toBe(await openssl(['x509', '-in', peerCrt, '-noout', '-pubkey']));
    expect(await readFile(path.join(etcdNew, 'server.crt'), 'utf8')).toBe(serverCert);
    const bakKey = (await readdir(etcdNew)).find((n) => n.startsWith('peer.key.cpmigrate-bak-'));
    expect(bakKey && (await readFile(path.join(etcdNew, bakKey), 'utf8'))).toBe(oldPeerKey);
    // the old master is untouched
    expect(await readdir(path.join(pkiOld, 'etcdtls/etcd'))).toEqual(['ca.crt', 'ca.key']);
  });

  it('refuses old masters', async () => {
    await expect(acts.issueEtcdMemberCerts(tls, 'oldmaster-1')).rejects.toBeInstanceOf(UnsafeOperationError);
    await expect(acts.issueEtcdMemberCerts(tls, 'oldmaster-2')).rejects.toThrow(/old master/);
    expect(await readdir(path.join(pkiOld, 'etcdtls/etcd'))).toEqual(['ca.crt', 'ca.key']);
  });

  it('does nothing for plain-http etcd (without touching any host)', async () => {
    const commands = ops.stats.commands;
    const out = await acts.issueEtcdMemberCerts(plan, 'master-1');
    expect(out).toMatchObject({ summary: 'etcd is plain http: no member certificates needed', changed: false });
    expect(ops.stats.commands).toBe(commands);
  });

  it('says so when no old master has the etcd CA', async () => {
    const none = { ...tls, paths: { ...tls.paths, pkiDir: path.join(mnt, 'nowhere') } };
    const err = await acts.issueEtcdMemberCerts(none, 'master-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanMismatchError);
    expect((err as Error).message).toMatch(
      /etcd CA not found: no old master has .*nowhere\/etcd\/ca\.crt and .*nowhere\/etcd\/ca\.key \(oldmaster-1 \(etcd\/ca\.crt and etcd\/ca\.key missing\), oldmaster-2/,
    );
    await expect(stat(path.join(pkiNew, 'nowhere'))).rejects.toThrow(/ENOENT/);
  });
});

describe('issueEtcdMemberCert (no SSH)', () => {
  it("follows an EC etcd CA, caps validity at the CA, and refuses a key that is not the CA's", async () => {
    const dir = path.join(root, 'etcd-ec');
    await makeEtcdCa(dir, { keyType: 'ec', days: 100 });
    const caCertPem = await readFile(path.join(dir, 'etcd/ca.crt'), 'utf8');
    const caKeyPem = await readFile(path.join(dir, 'etcd/ca.key'), 'utf8');
    const c = await issueEtcdMemberCert({
      caCertPem,
      caKeyPem,
      commonName: 'master-2',
      sans: ['master-2', 'localhost', '10.0.0.2', '127.0.0.1', '::1', '10.0.0.2'],
      usage: 'peer',
    });
    expect(c.keyAlgorithm).toBe('ECDSA P-256');
    expect(c.keyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(c.sans).toEqual(['DNS:master-2', 'DNS:localhost', 'IP:10.0.0.2', 'IP:127.0.0.1', 'IP:::1']);
    const caEnd = new Date(/notAfter=(.*)/.exec(await openssl(['x509', '-in', path.join(dir, 'etcd/ca.crt'), '-noout', '-enddate']))?.[1] ?? '');
    expect(new Date(c.notAfter).getTime()).toBe(caEnd.getTime());
    await writeFile(path.join(dir, 'peer.crt'), c.certPem);
    expect((await openssl(['verify', '-CAfile', path.join(dir, 'etcd/ca.crt'), path.join(dir, 'peer.crt')])).trim()).toMatch(/: OK$/);
    const text = await openssl(['x509', '-in', path.join(dir, 'peer.crt'), '-noout', '-text']);
    expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature\n/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    const status = await inspectServingCert({
      certPem: c.certPem,
      keyPem: c.keyPem,
      caCertPem,
      requiredSANs: ['10.0.0.2', '::1'],
      requiredUsages: ['serverAuth', 'clientAuth'],
      renewWithinDays: 30,
    });
    expect(status).toMatchObject({ ok: true, problems: [] });

    // the cluster CA's key does not sign for the etcd CA
    const wrongKey = await readFile(path.join(pkiOld, 'ca.key'), 'utf8');
    await expect(issueEtcdMemberCert({ caCertPem, caKeyPem: wrongKey, commonName: 'master-2', sans: ['10.0.0.2'], usage: 'server' })).rejects.toThrow(
      /etcd CA key does not belong/,
    );
  });
});
