/**
 * Certificate activities: copy the cluster PKI from an old master to a new
 * one, re-issue the apiserver serving certificate on a new master with SANs
 * for the new masters and the VIP, and issue a new master's own etcd
 * server/peer certificates from the etcd CA. All are idempotent. Key material
 * goes host → worker memory → host over SSH; it is never logged or returned.
 *
 * One concern a file:
 *   common.ts       dependencies, paths under the PKI dir
 *   pki-copy.ts     copyPki (listing, batched read, pushes; per-host pairs kept)
 *   apiserver.ts    reissueApiserverCert
 *   etcd-member.ts  issueEtcdMemberCerts (the etcd CA from an old master)
 *   policies.ts     the certificate policies over lib/x509 (apiserver re-issue, etcd member)
 */
import { apiserverCertActivities } from './apiserver';
import type { CertActivityDeps } from './common';
import { etcdMemberCertActivities } from './etcd-member';
import { pkiCopyActivities } from './pki-copy';

export type { CertActivityDeps } from './common';
export { PER_HOST_ETCD_PKI_FILES, PER_HOST_PKI_FILES } from './pki-copy';
export { requiredApiserverSANs } from './apiserver';
export { requiredEtcdMemberSANs } from './etcd-member';

export function createCertActivities(deps: CertActivityDeps) {
  return {
    copyPki: pkiCopyActivities(deps).copyPki,
    reissueApiserverCert: apiserverCertActivities(deps).reissueApiserverCert,
    issueEtcdMemberCerts: etcdMemberCertActivities(deps).issueEtcdMemberCerts,
  };
}

export type CertActivities = ReturnType<typeof createCertActivities>;
