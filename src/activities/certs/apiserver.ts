/** reissueApiserverCert: the apiserver serving certificate with the SANs the new masters and the VIP need. */
import { PlanMismatchError, UnsafeOperationError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import { pushOptionsLike, statPaths } from '../../lib/file-meta';
import { activityLog, beat } from '../../lib/heartbeat';
import { inspectServingCert } from '../../lib/x509';
import { masterOf, sshTargetOf } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import type { StepOutcome } from '../types';
import { join, type CertActivityDeps } from './common';
import { reissueServingCert } from './policies';

export function requiredApiserverSANs(plan: Plan): string[] {
  return [...plan.newMasters.map((h) => h.address), plan.loadBalancer.vip, ...plan.apiserver.extraSANs];
}

export function apiserverCertActivities(deps: CertActivityDeps) {
  return {
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
  };
}
