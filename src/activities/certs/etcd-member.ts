/** issueEtcdMemberCerts: a new master's own etcd server and peer certificates, from the etcd CA of an old master. */
import { HostKeyMismatchError, PlanMismatchError, SshAuthError, UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import { pushOptionsLike, statPaths, type PathMeta } from '../../lib/file-meta';
import { activityLog, beat } from '../../lib/heartbeat';
import type { HostOps } from '../../lib/hostops';
import { formatSan, inspectServingCert, sanFromText, unionSans, type NewCert, type ServingCertStatus } from '../../lib/x509';
import { masterOf, sshTargetOf } from '../../plan/hosts';
import type { Host, Plan } from '../../plan/schema';
import type { StepOutcome } from '../types';
import { join, type CertActivityDeps } from './common';
import { ETCD_MEMBER_USAGES, issueEtcdMemberCert, type EtcdCertUsage } from './policies';

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

export function etcdMemberCertActivities(deps: CertActivityDeps) {
  return {
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
