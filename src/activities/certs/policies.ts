/**
 * The certificate policies of the migration, on top of lib/x509's SAN model,
 * keys and signing:
 *   - the apiserver serving certificate re-issued with the SANs the new
 *     masters and the VIP need (subject, usages and SANs kept);
 *   - etcd member certificates as kubeadm makes them.
 */
import type * as X509 from '@peculiar/x509';
import {
  defaultKeyUsage,
  EKU_OID,
  formatSan,
  loadSigningCa,
  newKeySpecFor,
  newKeySpecLike,
  parseCert,
  sanFromText,
  sanKey,
  sansOf,
  SERVER_AUTH,
  signLeaf,
  unionSans,
  x509lib,
  type ExtKeyUsage,
  type IssuedCert,
  type NewCert,
} from '../../lib/x509';

export interface ReissueInput {
  /** the current serving certificate: subject, usages and SANs are kept */
  certPem: string;
  caCertPem: string;
  caKeyPem: string;
  requiredSANs: string[];
  now?: Date;
  /** default 365 */
  validityDays?: number;
  /** refuse when the CA itself expires within this many days (default 30) */
  minCaRemainingDays?: number;
}

/**
 * A new serving certificate: same subject and key usages (serverAuth added if
 * absent), SANs = current ∪ required, a NEW key of the same algorithm, a new
 * random serial, AKI = the CA's key id, SKI of the new key, valid one year but
 * never beyond the CA.
 */
export async function reissueServingCert(input: ReissueInput): Promise<IssuedCert> {
  const x509 = await x509lib();
  const now = input.now ?? new Date();
  const old = parseCert(x509, input.certPem, 'serving certificate');
  const ca = await loadSigningCa(x509, { ...input, now }, 'cluster CA', 're-issuing the apiserver certificate');

  const spec = newKeySpecFor(old);
  const existing = sansOf(x509, old);
  const required = input.requiredSANs.map(sanFromText);
  const sans = unionSans(existing, required);
  const existingKeys = new Set(existing.map(sanKey));
  const added = sans.filter((s) => !existingKeys.has(sanKey(s)));

  const issued = await signLeaf(x509, ca, {
    subject: new x509.Name(old.subjectName.toArrayBuffer()),
    spec,
    sans,
    now,
    validityDays: input.validityDays,
    extensions: () => {
      const exts: X509.Extension[] = [];
      exts.push(old.getExtension(x509.BasicConstraintsExtension) ?? new x509.BasicConstraintsExtension(false, undefined, true));
      exts.push(old.getExtension(x509.KeyUsagesExtension) ?? defaultKeyUsage(x509, spec));
      const eku = old.getExtension(x509.ExtendedKeyUsageExtension);
      const usages = (eku?.usages ?? []).map(String);
      if (!usages.includes(SERVER_AUTH)) usages.push(SERVER_AUTH);
      exts.push(new x509.ExtendedKeyUsageExtension(usages, eku?.critical ?? false));
      return exts;
    },
  });
  return { ...issued, addedSANs: added.map(formatSan) };
}

export type EtcdCertUsage = 'server' | 'peer';

/** Extended key usages of kubeadm's etcd member certificates: both serve and dial TLS. */
export const ETCD_MEMBER_USAGES: Readonly<Record<EtcdCertUsage, ExtKeyUsage[]>> = {
  server: ['serverAuth', 'clientAuth'],
  peer: ['serverAuth', 'clientAuth'],
};

export interface EtcdMemberCertInput {
  /** the etcd CA (pki/etcd/ca.crt, ca.key) */
  caCertPem: string;
  caKeyPem: string;
  /** the member's host name (kubeadm: the node name) */
  commonName: string;
  /** IPs or DNS names; duplicates are dropped */
  sans: string[];
  /** etcd/server.crt (client URL) or etcd/peer.crt (peer URL) */
  usage: EtcdCertUsage;
  now?: Date;
  /** default 365, capped at the CA's notAfter */
  validityDays?: number;
  /** refuse when the CA expires within this many days (default 30) */
  minCaRemainingDays?: number;
}

/**
 * An etcd member certificate as `kubeadm init phase certs etcd-server` /
 * `etcd-peer` makes it: subject CN=<host>, the given SANs, EKU serverAuth +
 * clientAuth, KU digitalSignature (+ keyEncipherment for RSA) critical,
 * CA:FALSE, SKI/AKI, a NEW key in the CA's family (RSA 2048, or the CA's EC
 * curve), signed by the etcd CA, valid one year but never beyond the CA.
 */
export async function issueEtcdMemberCert(input: EtcdMemberCertInput): Promise<NewCert> {
  const x509 = await x509lib();
  const now = input.now ?? new Date();
  if (!input.commonName.trim()) throw new Error('etcd member certificate: empty common name');
  const ca = await loadSigningCa(x509, { ...input, now }, 'etcd CA', `issuing the etcd ${input.usage} certificate`);
  const spec = newKeySpecLike(ca.cert);
  const sans = unionSans([], input.sans.map(sanFromText));
  return signLeaf(x509, ca, {
    subject: new x509.Name([{ CN: [input.commonName.trim()] }]),
    spec,
    sans,
    now,
    validityDays: input.validityDays,
    extensions: () => [
      new x509.BasicConstraintsExtension(false, undefined, true),
      defaultKeyUsage(x509, spec),
      new x509.ExtendedKeyUsageExtension(
        ETCD_MEMBER_USAGES[input.usage].map((u) => EKU_OID[u]),
        false,
      ),
    ],
  });
}
