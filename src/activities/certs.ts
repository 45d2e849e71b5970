/**
 * Certificate activities: copy the cluster PKI from an old master to a new
 * one, re-issue the apiserver serving certificate on a new master with SANs
 * for the new masters and the VIP, and issue a new master's own etcd
 * server/peer certificates from the etcd CA. All are idempotent. Key material
 * goes host → worker memory → host over SSH; it is never logged or returned.
 */
import { pushOptionsLike, statPaths, type PathMeta } from '../lib/file-meta';
import { failpoint } from '../lib/failpoint';
import { HostKeyMismatchError, PlanMismatchError, SshAuthError, UnsafeOperationError } from '../errors';
import type { HostOps } from '../lib/hostops';
import { sha256hex } from '../lib/digest';
import { shq } from '../lib/shell';
import { formatSan, inspectServingCert, sanFromText, unionSans, type NewCert, type ServingCertStatus } from '../lib/x509';
import { ETCD_MEMBER_USAGES, issueEtcdMemberCert, reissueServingCert, type EtcdCertUsage } from './cert-policies';
import { findHost, sshTargetOf, type SshTarget } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import { activityLog, beat } from './heartbeat';
import type { StepOutcome } from './types';

export interface CertActivityDeps {
  hostOps: () => HostOps;
}

/** Files under pkiDir that belong to one host: not overwritten once the target has them (and the same CA). */
export const PER_HOST_PKI_FILES = ['apiserver.crt', 'apiserver.key'] as const;

/**
 * Per-host etcd certificates (kubeadm layout): their SANs carry the host's own
 * address, so they are NEVER copied from another master -- kept when the target
 * has them, reported as missing when it does not (provision them on the host:
 * `kubeadm init phase certs etcd-server` / `etcd-peer`, or your PKI tooling).
 * etcd/ca.*, etcd/healthcheck-client.* and apiserver-etcd-client.* are shared.
 */
export const PER_HOST_ETCD_PKI_FILES = ['etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key'] as const;

interface PkiEntry {
  type: 'f' | 'd' | 'l';
  mode: number;
  /** "user:group" (names) */
  owner: string;
  /** sha256 of a file's content */
  sha?: string;
  /** relative to pkiDir; '' for pkiDir itself */
  rel: string;
}

function masterOf(plan: Plan, name: string) {
  try {
    return findHost(plan, name);
  } catch (e) {
    throw new PlanMismatchError((e as Error).message);
  }
}

function join(dir: string, rel: string): string {
  return rel ? `${dir.replace(/\/+$/, '')}/${rel}` : dir;
}

const SKIP = `! -name '*.cpmigrate-bak-*' ! -name '.*.cpmigrate-tmp.*'`;

/**
 * Everything under pkiDir in one round trip: NUL-separated "TYPE MODE [SHA256] RELPATH"
 * (POSIX sh + GNU find/coreutils; our own backups and temp files are not PKI).
 * undefined when the directory does not exist.
 */
async function inventory(ops: HostOps, target: SshTarget, pkiDir: string): Promise<PkiEntry[] | undefined> {
  const r = await ops.run(
    target,
    [
      `d=${shq(pkiDir)}; [ -d "$d" ] || exit 66; cd "$d" || exit 1`,
      `find . \\( -type d -o -type l \\) ${SKIP} -printf '%y %m %u:%g %P\\0'`,
      `find . -type f ${SKIP} -exec sh -c 'for f; do s=$(sha256sum < "$f" | cut -c1-64) || exit 1; printf "f %s %s %s %s\\0" "$(stat -c %a -- "$f")" "$(stat -c %U:%G -- "$f")" "$s" "\${f#./}"; done' sh {} +`,
    ].join('\n'),
    { allowFailure: true },
  );
  if (r.exitCode === 66) return undefined;
  if (r.exitCode !== 0) throw new Error(`${target.name}: cannot list ${pkiDir}: ${r.stderr.trim()}`);
  return r.stdout
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const m = /^([fdl]) ([0-7]+) (\S+) (?:([0-9a-f]{64}) )?(.*)$/s.exec(line);
      if (!m) throw new Error(`${target.name}: unexpected listing line ${JSON.stringify(line)}`);
      return { type: m[1] as PkiEntry['type'], mode: parseInt(m[2] ?? '', 8) & 0o7777, owner: m[3] ?? '', sha: m[4], rel: m[5] ?? '' };
    });
}

/** Read several files in one round trip ("NAME\0SIZE\0" + bytes each), checking each against its expected sha256. */
async function readMany(ops: HostOps, target: SshTarget, pkiDir: string, files: PkiEntry[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (!files.length) return out;
  // HostOps.run decodes stdout as UTF-8, which would mangle binary files (e.g. DER): base64 each one
  const r = await ops.run(
    target,
    `cd ${shq(pkiDir)} || exit 1\nfor f in ${files.map((f) => shq(f.rel)).join(' ')}; do printf '%s\\0' "$f"; base64 < "$f" | tr -d '\\n' || exit 1; printf '\\0'; done`,
  );
  const parts = r.stdout.split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) out.set(parts[i] ?? '', Buffer.from(parts[i + 1] ?? '', 'base64'));
  for (const f of files) {
    const got = out.get(f.rel);
    if (!got) throw new Error(`${target.name}: ${join(pkiDir, f.rel)} was not read; retry`);
    if (f.sha && sha256hex(got) !== f.sha) throw new Error(`${target.name}: ${join(pkiDir, f.rel)} changed while copying; retry`);
  }
  return out;
}

async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export function requiredApiserverSANs(plan: Plan): string[] {
  return [...plan.newMasters.map((h) => h.address), plan.loadBalancer.vip, ...plan.apiserver.extraSANs];
}

/** The host part of a URL, without IPv6 brackets ('' when there is none). */
function urlHost(u: string): string {
  try {
    return new URL(u).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

function isHttps(u: string): boolean {
  try {
    return new URL(u).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * SANs of a member's etcd/server.crt and etcd/peer.crt, as kubeadm writes them
 * (host name, localhost, the host's address, 127.0.0.1, ::1), plus the host of
 * the member's client URL (server) or peer URL (peer) when that is another name.
 */
export function requiredEtcdMemberSANs(host: Pick<Host, 'name' | 'address' | 'etcd'>): Record<EtcdCertUsage, string[]> {
  const base = [host.name, 'localhost', host.address, '127.0.0.1', '::1'];
  const norm = (xs: string[]) => unionSans([], xs.filter(Boolean).map(sanFromText)).map((s) => s.value);
  return { server: norm([...base, urlHost(host.etcd.clientURL)]), peer: norm([...base, urlHost(host.etcd.peerURL)]) };
}

const ETCD_CA_CRT = 'etcd/ca.crt';
const ETCD_CA_KEY = 'etcd/ca.key';

/**
 * The etcd CA (certificate and key) from the first old master, in plan order,
 * that has both. An old master that cannot be reached is skipped; if none of
 * the reachable ones has the CA the error says which could not be asked.
 */
async function etcdCaFromOldMasters(ops: HostOps, plan: Plan): Promise<{ from: string; crt: Buffer; key: Buffer }> {
  const pki = plan.paths.pkiDir;
  const lacking: string[] = [];
  const unreachable: Array<{ host: string; error: Error }> = [];
  for (const h of plan.oldMasters) {
    const t = sshTargetOf(plan, h);
    let crt: Buffer | undefined;
    let key: Buffer | undefined;
    try {
      [crt, key] = await Promise.all([ops.readFile(t, join(pki, ETCD_CA_CRT)), ops.readFile(t, join(pki, ETCD_CA_KEY))]);
    } catch (e) {
      unreachable.push({ host: h.name, error: e as Error });
      continue;
    }
    if (crt && key) {
      if (unreachable.length)
        activityLog().warn('old masters skipped while looking for the etcd CA', { skipped: unreachable.map((u) => `${u.host}: ${u.error.message}`) });
      return { from: h.name, crt, key };
    }
    lacking.push(`${h.name} (${[crt ? '' : ETCD_CA_CRT, key ? '' : ETCD_CA_KEY].filter(Boolean).join(' and ')} missing)`);
  }
  const where = `${join(pki, ETCD_CA_CRT)} and ${join(pki, ETCD_CA_KEY)}`;
  if (unreachable.length) {
    // a host-identity or credential problem needs a human: surface it as it is (not retried)
    const fatal = unreachable.find((u) => u.error instanceof HostKeyMismatchError || u.error instanceof SshAuthError);
    if (fatal) throw fatal.error;
    throw new Error(
      `etcd CA (${where}) not found on the old masters that answered${lacking.length ? ` (${lacking.join(', ')})` : ''}; could not ask ${unreachable.map((u) => `${u.host}: ${u.error.message}`).join('; ')}`,
    );
  }
  throw new PlanMismatchError(
    `etcd CA not found: no old master has ${where} (${lacking.join(', ')}); the plan's etcd URLs are https, so the new members need certificates from the cluster's etcd CA (check paths.pkiDir and the etcd URLs)`,
  );
}

export function createCertActivities(deps: CertActivityDeps) {
  return {
    /**
     * Copy every file under paths.pkiDir (recursively) from one master to a new
     * master, keeping modes; files already identical are left alone. The
     * per-host apiserver.crt/.key are not overwritten once the target has them
     * with the same ca.crt, so a re-run never undoes reissueApiserverCert. The
     * per-host etcd server/peer pairs (PER_HOST_ETCD_PKI_FILES) are never
     * copied: kept if present, else listed in details.missingPerHost.
     */
    async copyPki(plan: Plan, fromHost: string, toHost: string): Promise<StepOutcome> {
      const from = masterOf(plan, fromHost);
      const to = masterOf(plan, toHost);
      if (to.side === 'old') throw new UnsafeOperationError(`refusing to copy PKI onto ${to.name}: it is an old master (only new masters receive the PKI)`);
      if (from.name === to.name) throw new UnsafeOperationError(`refusing to copy PKI from ${from.name} onto itself`);
      const ops = deps.hostOps();
      const src = sshTargetOf(plan, from);
      const dst = sshTargetOf(plan, to);
      const pki = plan.paths.pkiDir;
      const log = activityLog();

      const [srcInv, dstInv] = await Promise.all([inventory(ops, src, pki), inventory(ops, dst, pki)]);
      if (!srcInv) throw new PlanMismatchError(`${from.name}: ${pki} does not exist (paths.pkiDir in the plan)`);
      const files = srcInv.filter((e) => e.type === 'f').sort((a, b) => a.rel.localeCompare(b.rel));
      if (files.length === 0) throw new PlanMismatchError(`${from.name}: ${pki} holds no files; is paths.pkiDir right?`);
      const links = srcInv.filter((e) => e.type === 'l').map((e) => e.rel);
      const there = new Map((dstInv ?? []).map((e) => [`${e.type}:${e.rel}`, e]));

      // directories first, with the source's mode and owner when created (existing ones are left as they are)
      const newDirs = srcInv.filter((e) => e.type === 'd' && !there.has(`d:${e.rel}`)).sort((a, b) => a.rel.length - b.rel.length);
      if (newDirs.length) {
        await ops.run(
          dst,
          newDirs.map((d) => `mkdir -p -m ${d.mode.toString(8)} -- ${shq(join(pki, d.rel))} && chown ${shq(d.owner)} -- ${shq(join(pki, d.rel))}`).join(' && '),
        );
      }
      failpoint('certs.pki.after-dirs', to.name);

      // a per-host file already there is kept only if the target already has this cluster's CA
      // (then it is ours, e.g. re-issued); a leftover from another PKI is replaced (with backup)
      const caSha = files.find((f) => f.rel === 'ca.crt')?.sha;
      const sameCa = caSha !== undefined && there.get('f:ca.crt')?.sha === caSha;
      const kept: string[] = [];
      const missingPerHost: string[] = [];
      const todo: PkiEntry[] = [];
      let unchanged = 0;
      for (const f of files) {
        const cur = there.get(`f:${f.rel}`);
        if ((PER_HOST_ETCD_PKI_FILES as readonly string[]).includes(f.rel)) {
          // the source's copy names the source's address: never copy it, whatever the target has
          if (cur) kept.push(f.rel);
          else missingPerHost.push(f.rel);
        } else if ((PER_HOST_PKI_FILES as readonly string[]).includes(f.rel) && cur && sameCa) kept.push(f.rel);
        else if (cur && cur.sha === f.sha && cur.mode === f.mode && cur.owner === f.owner) unchanged++;
        else todo.push(f);
      }
      const contents = await readMany(ops, src, pki, todo);
      let copied = 0;
      const changedFiles: string[] = [];
      const backups: string[] = [];
      await inBatches(todo, 4, async (f) => {
        const r = await ops.pushFile(dst, join(pki, f.rel), contents.get(f.rel) as Buffer, { mode: f.mode, owner: f.owner, backup: true });
        if (r.changed) {
          copied++;
          changedFiles.push(f.rel);
          if (r.backupPath) backups.push(r.backupPath);
        } else {
          unchanged++;
        }
        beat({ copied, unchanged, of: files.length });
      });
      failpoint('certs.pki.after-copy', to.name);
      changedFiles.sort();
      if (links.length) log.warn('symlinks in the PKI directory were not copied', { from: from.name, links });
      if (missingPerHost.length) {
        log.warn('per-host etcd certificates missing on the target (not copied from the source: wrong SANs)', { from: from.name, to: to.name, missingPerHost });
      }
      log.info('PKI copied', { from: from.name, to: to.name, copied, unchanged, kept: kept.length });
      return {
        summary:
          `PKI ${from.name} → ${to.name}: ${copied} copied, ${unchanged} unchanged${kept.length ? `, ${kept.length} per-host kept (${kept.join(', ')})` : ''}` +
          `${missingPerHost.length ? `, ${missingPerHost.length} per-host missing on ${to.name}, not copied (${missingPerHost.join(', ')})` : ''}` +
          `${links.length ? `, ${links.length} symlink(s) skipped` : ''}`,
        changed: copied > 0,
        details: {
          from: from.name,
          to: to.name,
          pkiDir: pki,
          files: files.length,
          copied,
          unchanged,
          changedFiles,
          keptPerHost: kept,
          missingPerHost,
          skippedSymlinks: links,
          backups,
        },
      };
    },

    /**
     * Re-issue apiserver.crt/.key on a new master: SANs = current ∪ new
     * masters' addresses ∪ VIP ∪ apiserver.extraSANs, signed by the cluster CA
     * from the same pki dir, with a new key. Keeps a certificate that already
     * fits (covers the SANs, verifies against the CA, > 30 days left).
     */
    async reissueApiserverCert(plan: Plan, hostName: string): Promise<StepOutcome> {
      const host = masterOf(plan, hostName);
      if (host.side === 'old') throw new UnsafeOperationError(`refusing to re-issue the apiserver certificate on ${host.name}: it is an old master`);
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const pki = plan.paths.pkiDir;
      const p = {
        caCrt: join(pki, 'ca.crt'),
        caKey: join(pki, 'ca.key'),
        crt: join(pki, 'apiserver.crt'),
        key: join(pki, 'apiserver.key'),
      };
      const [caCrt, caKey, crt, key] = await Promise.all([
        ops.readFile(target, p.caCrt),
        ops.readFile(target, p.caKey),
        ops.readFile(target, p.crt),
        ops.readFile(target, p.key),
      ]);
      const missing = Object.entries({ [p.caCrt]: caCrt, [p.caKey]: caKey, [p.crt]: crt })
        .filter(([, v]) => v === undefined)
        .map(([k]) => k);
      if (missing.length || !caCrt || !caKey || !crt) {
        throw new PlanMismatchError(`${host.name}: ${missing.join(', ')} missing; copy the PKI from an old master first (copyPki)`);
      }
      const requiredSANs = requiredApiserverSANs(plan);
      const status = await inspectServingCert({
        certPem: crt.toString('utf8'),
        keyPem: key?.toString('utf8'),
        caCertPem: caCrt.toString('utf8'),
        requiredSANs,
      });
      if (status.ok) {
        return {
          summary: `${host.name}: apiserver certificate already fits (serial ${status.serial}, ${status.sans.length} SANs, valid until ${status.notAfter}); kept`,
          changed: false,
          details: { host: host.name, serial: status.serial, sans: status.sans, notAfter: status.notAfter },
        };
      }
      beat({ host: host.name, step: 'issuing' });
      const issued = await reissueServingCert({
        certPem: crt.toString('utf8'),
        caCertPem: caCrt.toString('utf8'),
        caKeyPem: caKey.toString('utf8'),
        requiredSANs,
      });
      // key first: if we stop in between, the pair no longer matches and the next run re-issues
      // the pair gets the metadata of the files it replaces (copied from an old master with theirs); a missing key takes the certificate's owner, mode 0600
      const meta = await statPaths(ops, target, [p.key, p.crt]);
      const crtMeta = meta.get(p.crt)?.file;
      const k = await ops.pushFile(
        target,
        p.key,
        issued.keyPem,
        pushOptionsLike(meta.get(p.key), { mode: 0o600, ...(crtMeta ? { owner: crtMeta.owner } : {}) }, { backup: true }),
      );
      failpoint('certs.apiserver.after-key', host.name);
      const c = await ops.pushFile(target, p.crt, issued.certPem, pushOptionsLike(meta.get(p.crt), undefined, { backup: true }));
      failpoint('certs.apiserver.after-cert', host.name);
      const backups = [k.backupPath, c.backupPath].filter((x): x is string => Boolean(x));
      activityLog().info('apiserver certificate re-issued', { host: host.name, serial: issued.serial, addedSANs: issued.addedSANs, notAfter: issued.notAfter });
      return {
        summary: `${host.name}: apiserver certificate re-issued (serial ${issued.serial}, ${issued.keyAlgorithm}, valid until ${issued.notAfter}; added ${issued.addedSANs.join(', ') || 'no SANs'})`,
        changed: true,
        details: {
          host: host.name,
          reasons: status.problems,
          serial: issued.serial,
          previousSerial: status.serial,
          subject: issued.subject,
          sans: issued.sans,
          addedSANs: issued.addedSANs,
          notBefore: issued.notBefore,
          notAfter: issued.notAfter,
          keyAlgorithm: issued.keyAlgorithm,
          backups,
        },
      };
    },

    /**
     * A new master's own etcd member certificates (kubeadm layout), before its
     * member joins: pki/etcd/server.crt/.key and peer.crt/.key with CN = host
     * name and SANs = requiredEtcdMemberSANs, signed by the etcd CA read from
     * the first old master that has pki/etcd/ca.crt and ca.key. Also installs
     * etcd/ca.crt (never ca.key) when missing or different. A pair already on
     * the host is kept when it verifies against that CA, covers the SANs,
     * matches its key, serves and dials TLS, and has > 30 days left. Nothing
     * to do when the member's client and peer URLs are both plain http.
     */
    async issueEtcdMemberCerts(plan: Plan, hostName: string): Promise<StepOutcome> {
      const host = masterOf(plan, hostName);
      if (host.side === 'old')
        throw new UnsafeOperationError(
          `refusing to issue etcd member certificates on ${host.name}: it is an old master (its etcd certificates are left as they are)`,
        );
      if (!isHttps(host.etcd.clientURL) && !isHttps(host.etcd.peerURL)) {
        return {
          summary: 'etcd is plain http: no member certificates needed',
          changed: false,
          details: { host: host.name, clientURL: host.etcd.clientURL, peerURL: host.etcd.peerURL },
        };
      }
      const ops = deps.hostOps();
      const target = sshTargetOf(plan, host);
      const pki = plan.paths.pkiDir;
      const usages: EtcdCertUsage[] = ['server', 'peer'];
      const rel = (u: EtcdCertUsage, ext: 'crt' | 'key') => `etcd/${u}.${ext}`;

      const ca = await etcdCaFromOldMasters(ops, plan);
      const caCertPem = ca.crt.toString('utf8');
      const [theirCa, ...pairs] = await Promise.all([
        ops.readFile(target, join(pki, ETCD_CA_CRT)),
        ...usages.flatMap((u) => [ops.readFile(target, join(pki, rel(u, 'crt'))), ops.readFile(target, join(pki, rel(u, 'key')))]),
      ]);
      const sans = requiredEtcdMemberSANs(host);
      const sanList = (u: EtcdCertUsage) => sans[u].map((x) => formatSan(sanFromText(x)));

      // what is there already
      const status = {} as Record<EtcdCertUsage, Pick<ServingCertStatus, 'ok' | 'problems'> & Partial<ServingCertStatus>>;
      await Promise.all(
        usages.map(async (u, i) => {
          const crt = pairs[2 * i];
          const key = pairs[2 * i + 1];
          if (!crt) {
            status[u] = { ok: false, problems: [`${rel(u, 'crt')} missing`] };
            return;
          }
          try {
            status[u] = await inspectServingCert({
              certPem: crt.toString('utf8'),
              keyPem: key?.toString('utf8'),
              caCertPem,
              requiredSANs: sans[u],
              requiredUsages: ETCD_MEMBER_USAGES[u],
              caLabel: `the etcd CA of ${ca.from}`,
            });
          } catch (e) {
            status[u] = { ok: false, problems: [(e as Error).message] };
          }
        }),
      );

      // metadata: the same file on the CA's old master (its mode and owner), else the file being replaced
      const metaPaths = [ETCD_CA_CRT, ...usages.flatMap((u) => [rel(u, 'crt'), rel(u, 'key')])].map((r) => join(pki, r));
      const caHost = plan.oldMasters.find((h) => h.name === ca.from);
      const [srcMeta, dstMeta] = await Promise.all([
        caHost ? statPaths(ops, sshTargetOf(plan, caHost), metaPaths) : new Map<string, PathMeta>(),
        statPaths(ops, target, metaPaths),
      ]);
      const like = (file: string, fallbackMode: number) => {
        const m = srcMeta.get(file)?.file ? srcMeta.get(file) : dstMeta.get(file);
        return pushOptionsLike(m, { mode: fallbackMode }, { backup: true });
      };

      // the member's trusted-ca-file; never the CA key
      const backups: string[] = [];
      let caInstalled = false;
      if (!theirCa?.equals(ca.crt)) {
        const r = await ops.pushFile(target, join(pki, ETCD_CA_CRT), ca.crt, like(join(pki, ETCD_CA_CRT), 0o644));
        caInstalled = r.changed;
        if (r.backupPath) backups.push(r.backupPath);
        failpoint('certs.etcd.after-ca', host.name);
      }

      const todo = usages.filter((u) => !status[u].ok);
      const issued: Partial<Record<EtcdCertUsage, NewCert>> = {};
      if (todo.length) {
        beat({ host: host.name, step: 'issuing etcd certificates', todo });
        const caKeyPem = ca.key.toString('utf8');
        await Promise.all(
          todo.map(async (u) => {
            const c = await issueEtcdMemberCert({ caCertPem, caKeyPem, commonName: host.name, sans: sans[u], usage: u });
            // key first: if we stop in between, the pair no longer matches and the next run re-issues
            const k = await ops.pushFile(target, join(pki, rel(u, 'key')), c.keyPem, like(join(pki, rel(u, 'key')), 0o600));
            failpoint('certs.etcd.after-key', host.name);
            const w = await ops.pushFile(target, join(pki, rel(u, 'crt')), c.certPem, like(join(pki, rel(u, 'crt')), 0o644));
            for (const b of [k.backupPath, w.backupPath]) if (b) backups.push(b);
            issued[u] = c;
          }),
        );
      }

      const issuedFiles = todo.flatMap((u) => [rel(u, 'crt'), rel(u, 'key')]);
      const keptFiles = usages.filter((u) => status[u].ok).flatMap((u) => [rel(u, 'crt'), rel(u, 'key')]);
      const sanText =
        sans.server.join() === sans.peer.join()
          ? `SANs ${sanList('server').join(', ')}`
          : `server SANs ${sanList('server').join(', ')}; peer SANs ${sanList('peer').join(', ')}`;
      const keptNames = usages.filter((u) => status[u].ok);
      const what =
        todo.length === 0
          ? `etcd server and peer certificates already valid (etcd CA of ${ca.from}; ${sanText})`
          : `etcd ${todo.join(' and ')} certificate${todo.length > 1 ? 's' : ''} issued by the etcd CA of ${ca.from}${keptNames.length ? `, ${keptNames.join(' and ')} certificate already valid` : ''} (${sanText})`;
      const changed = todo.length > 0 || caInstalled;
      activityLog().info('etcd member certificates', {
        host: host.name,
        caFrom: ca.from,
        issued: issuedFiles,
        kept: keptFiles,
        caInstalled,
        serials: Object.fromEntries(Object.entries(issued).map(([u, c]) => [u, c.serial])),
      });
      return {
        summary: `${host.name}: ${what}${caInstalled ? `; ${ETCD_CA_CRT} installed` : ''}`,
        changed,
        details: {
          host: host.name,
          caFrom: ca.from,
          issued: issuedFiles,
          kept: keptFiles,
          sans: { server: sanList('server'), peer: sanList('peer') },
          reasons: Object.fromEntries(todo.map((u) => [u, status[u].problems])),
          certificates: Object.fromEntries(
            usages.map((u) => {
              const c = issued[u];
              return [
                u,
                c ? { serial: c.serial, notAfter: c.notAfter, keyAlgorithm: c.keyAlgorithm } : { serial: status[u].serial, notAfter: status[u].notAfter },
              ];
            }),
          ),
          caInstalled,
          backups: backups.sort(),
        },
      };
    },
  };
}

export type CertActivities = ReturnType<typeof createCertActivities>;
