/**
 * X.509 building blocks: the SAN model, inspecting a serving certificate
 * against what the migration needs, new keys like a given certificate's or
 * CA's, loading a signing CA (checked), and signing a leaf. The policies that
 * use them (apiserver re-issue, etcd member certificates) live with the certs
 * activities (src/activities/certs/policies.ts). Pure crypto on PEM text: no
 * I/O, nothing logged.
 *
 * @peculiar/x509 builds the certificate; Node's webcrypto signs; Node's
 * KeyObject reads and writes PEM keys in any of PKCS#1, SEC1 and PKCS#8.
 */
// @peculiar/x509 loads tsyringe, which needs the Reflect metadata API at require time.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import net from 'node:net';
import type * as X509 from '@peculiar/x509';
import { UnsafeOperationError } from '../errors';

const DAY_MS = 24 * 3600_000;
export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'; // id-kp-serverAuth
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'; // id-kp-clientAuth
export const EKU_OID = { serverAuth: SERVER_AUTH, clientAuth: CLIENT_AUTH } as const;
export type ExtKeyUsage = keyof typeof EKU_OID;

let lib: Promise<typeof X509> | undefined;

/** @peculiar/x509 with Node's webcrypto as its provider (loaded once). */
export function x509lib(): Promise<typeof X509> {
  lib ??= (async () => {
    const m = await import('@peculiar/x509');
    const x = ((m as unknown as { default?: typeof X509 }).default ?? m) as typeof X509;
    // Node's webcrypto is a full WebCrypto; its type differs from the DOM `Crypto` the library declares
    x.cryptoProvider.set(webcrypto as never);
    return x;
  })();
  return lib;
}

export interface SanEntry {
  type: 'dns' | 'ip' | 'email' | 'url' | 'dn' | 'guid' | 'upn' | 'id';
  value: string;
}

/** "IP:10.0.0.1" / "DNS:kubernetes" style, as openssl prints them. */
export function formatSan(s: SanEntry): string {
  return `${s.type === 'dns' ? 'DNS' : s.type === 'ip' ? 'IP' : s.type.toUpperCase()}:${s.value}`;
}

function normIp(ip: string): string {
  if (net.isIPv4(ip)) return ip;
  // canonical IPv6 via the URL parser ([::1] etc.)
  try {
    return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return ip.toLowerCase();
  }
}

export function sanKey(s: SanEntry): string {
  return `${s.type}:${s.type === 'ip' ? normIp(s.value) : s.value.toLowerCase()}`;
}

/** A SAN from plan text: an IP address becomes IP, anything else DNS. */
export function sanFromText(text: string): SanEntry {
  const t = text.trim();
  return net.isIP(t) ? { type: 'ip', value: normIp(t) } : { type: 'dns', value: t.toLowerCase() };
}

export function sansOf(x509: typeof X509, cert: X509.X509Certificate): SanEntry[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  return ext.names.items.map((n) => ({ type: n.type, value: n.type === 'ip' ? normIp(n.value) : n.value }));
}

/** The SANs of a PEM certificate (what `openssl x509 -noout -ext subjectAltName` lists). */
export async function certSans(pem: string, what: string): Promise<SanEntry[]> {
  const x509 = await x509lib();
  return sansOf(x509, parseCert(x509, pem, what));
}

/** existing ∪ required, existing order first, no duplicates. */
export function unionSans(existing: SanEntry[], required: SanEntry[]): SanEntry[] {
  const seen = new Set<string>();
  const out: SanEntry[] = [];
  for (const s of [...existing, ...required]) {
    const k = sanKey(s);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(s);
    }
  }
  return out;
}

function spkiDer(k: KeyObject): Buffer {
  return createPublicKey(k).export({ type: 'spki', format: 'der' });
}

function curveName(nodeCurve: string | undefined): 'P-256' | 'P-384' | 'P-521' | undefined {
  return ({ prime256v1: 'P-256', 'P-256': 'P-256', secp384r1: 'P-384', 'P-384': 'P-384', secp521r1: 'P-521', 'P-521': 'P-521' } as const)[nodeCurve ?? ''];
}

const CURVE_HASH = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' } as const;

/** WebCrypto view of a PEM private key (PKCS#1, SEC1 or PKCS#8), for signing. */
async function importSigningKey(
  pem: string,
  what: string,
): Promise<{ key: webcrypto.CryptoKey; signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams; spki: Buffer }> {
  let k: KeyObject;
  try {
    k = createPrivateKey(pem);
  } catch (e) {
    throw new Error(`${what}: not a readable unencrypted private key (${(e as Error).message})`);
  }
  const pkcs8 = k.export({ type: 'pkcs8', format: 'der' });
  if (k.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']), signingAlgorithm: alg, spki: spkiDer(k) };
  }
  if (k.asymmetricKeyType === 'ec') {
    const namedCurve = curveName(k.asymmetricKeyDetails?.namedCurve);
    if (!namedCurve) throw new Error(`${what}: unsupported EC curve ${k.asymmetricKeyDetails?.namedCurve}`);
    const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve }, false, ['sign']);
    return { key, signingAlgorithm: { name: 'ECDSA', hash: CURVE_HASH[namedCurve] } as webcrypto.EcdsaParams, spki: spkiDer(k) };
  }
  throw new Error(`${what}: unsupported key type ${k.asymmetricKeyType} (RSA and ECDSA P-256/384/521 are supported)`);
}

interface NewKeySpec {
  gen: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  pem: 'pkcs1' | 'sec1';
  describe: string;
}

/** Same algorithm as the current certificate's key (RSA at least 2048 bits); RSA 2048 otherwise. */
export function newKeySpecFor(cert: X509.X509Certificate): NewKeySpec {
  const rsa2048: NewKeySpec = {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    pem: 'pkcs1',
    describe: 'RSA 2048',
  };
  let pub: KeyObject;
  try {
    pub = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    return rsa2048;
  }
  if (pub.asymmetricKeyType === 'rsa') {
    const bits = Math.max(2048, pub.asymmetricKeyDetails?.modulusLength ?? 2048);
    return { gen: { ...(rsa2048.gen as webcrypto.RsaHashedKeyGenParams), modulusLength: bits }, pem: 'pkcs1', describe: `RSA ${bits}` };
  }
  if (pub.asymmetricKeyType === 'ec') {
    const namedCurve = curveName(pub.asymmetricKeyDetails?.namedCurve);
    if (namedCurve) return { gen: { name: 'ECDSA', namedCurve }, pem: 'sec1', describe: `ECDSA ${namedCurve}` };
  }
  return rsa2048;
}

/** A new leaf key in the CA's algorithm family, like kubeadm: RSA 2048 for an RSA CA, the CA's curve for an EC CA. */
export function newKeySpecLike(ca: X509.X509Certificate): NewKeySpec {
  const spec = newKeySpecFor(ca);
  if (spec.pem === 'pkcs1') return { gen: { ...(spec.gen as webcrypto.RsaHashedKeyGenParams), modulusLength: 2048 }, pem: 'pkcs1', describe: 'RSA 2048' };
  return spec;
}

function sameBytes(a: ArrayBuffer | Buffer, b: ArrayBuffer | Buffer): boolean {
  return Buffer.from(a as ArrayBuffer).equals(Buffer.from(b as ArrayBuffer));
}

export function parseCert(x509: typeof X509, pem: string, what: string): X509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (e) {
    throw new Error(`${what}: not a PEM certificate (${(e as Error).message})`);
  }
}

/** Does `cert` chain to `ca` (issuer name and signature)? */
export async function issuedBy(cert: X509.X509Certificate, ca: X509.X509Certificate): Promise<boolean> {
  if (!sameBytes(cert.issuerName.toArrayBuffer(), ca.subjectName.toArrayBuffer())) return false;
  try {
    return await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

export interface ServingCertInput {
  certPem: string;
  /** the matching private key, if present on the host */
  keyPem?: string;
  caCertPem: string;
  /** SANs the certificate must carry (IPs or DNS names) */
  requiredSANs: string[];
  now?: Date;
  /** renew when the certificate expires within this many days (default 30) */
  renewWithinDays?: number;
  /** extended key usages the certificate must carry (default serverAuth) */
  requiredUsages?: ExtKeyUsage[];
  /** how problems name the CA (default "the cluster CA") */
  caLabel?: string;
}

export interface ServingCertStatus {
  /** true: the certificate can stay as it is */
  ok: boolean;
  /** why it must be re-issued; empty when ok */
  problems: string[];
  subject: string;
  serial: string;
  notAfter: string;
  sans: string[];
  missingSANs: string[];
}

/** Check the current serving certificate against the CA and the required SANs. */
export async function inspectServingCert(input: ServingCertInput): Promise<ServingCertStatus> {
  const x509 = await x509lib();
  const now = input.now ?? new Date();
  const cert = parseCert(x509, input.certPem, 'serving certificate');
  const ca = parseCert(x509, input.caCertPem, 'CA certificate');
  const problems: string[] = [];
  const have = sansOf(x509, cert);
  const haveKeys = new Set(have.map(sanKey));
  const missing = input.requiredSANs.map(sanFromText).filter((s) => !haveKeys.has(sanKey(s)));
  if (missing.length) problems.push(`missing SANs: ${missing.map(formatSan).join(', ')}`);
  if (!(await issuedBy(cert, ca))) problems.push(`not signed by ${input.caLabel ?? 'the cluster CA'} (${ca.subject})`);
  if (cert.notBefore.getTime() > now.getTime()) problems.push(`not valid before ${cert.notBefore.toISOString()}`);
  const renewMs = (input.renewWithinDays ?? 30) * DAY_MS;
  if (cert.notAfter.getTime() - now.getTime() < renewMs) problems.push(`expires ${cert.notAfter.toISOString()} (within ${input.renewWithinDays ?? 30} days)`);
  const eku = (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  for (const u of input.requiredUsages ?? ['serverAuth']) if (!eku.includes(EKU_OID[u])) problems.push(`extended key usage lacks ${u}`);
  if (input.keyPem === undefined) problems.push('private key is missing');
  else {
    try {
      if (!sameBytes(spkiDer(createPrivateKey(input.keyPem)), cert.publicKey.rawData)) problems.push('private key does not match the certificate');
    } catch (e) {
      problems.push(`private key unreadable: ${(e as Error).message}`);
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    subject: cert.subject,
    serial: cert.serialNumber,
    notAfter: cert.notAfter.toISOString(),
    sans: have.map(formatSan),
    missingSANs: missing.map(formatSan),
  };
}

export interface NewCert {
  certPem: string;
  /** PKCS#1 (RSA) or SEC1 (EC) PEM, like kubeadm writes */
  keyPem: string;
  serial: string;
  subject: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  keyAlgorithm: string;
}

export interface IssuedCert extends NewCert {
  addedSANs: string[];
}

export interface LoadedCa {
  cert: X509.X509Certificate;
  signer: Awaited<ReturnType<typeof importSigningKey>>;
}

/** The CA certificate and its key, checked: the key belongs to the certificate, it is a CA, it does not expire soon. */
export async function loadSigningCa(
  x509: typeof X509,
  input: { caCertPem: string; caKeyPem: string; now: Date; minCaRemainingDays?: number },
  label: string,
  purpose: string,
): Promise<LoadedCa> {
  const ca = parseCert(x509, input.caCertPem, `${label} certificate`);
  const signer = await importSigningKey(input.caKeyPem, `${label} key`);
  if (!sameBytes(signer.spki, ca.publicKey.rawData))
    throw new UnsafeOperationError(`the ${label} key does not belong to the ${label} certificate (ca.key vs ca.crt); refusing to sign`);
  const caBc = ca.getExtension(x509.BasicConstraintsExtension);
  if (caBc && !caBc.ca) throw new UnsafeOperationError(`the ${label} certificate (${ca.subject}) is not a CA (basicConstraints CA:FALSE)`);
  const minCa = (input.minCaRemainingDays ?? 30) * DAY_MS;
  if (ca.notAfter.getTime() - input.now.getTime() < minCa) {
    throw new UnsafeOperationError(`the ${label} (${ca.subject}) expires ${ca.notAfter.toISOString()}: renew the CA before ${purpose}`);
  }
  return { cert: ca, signer };
}

/**
 * Sign a leaf certificate for a new key of `spec`: random positive 128-bit
 * serial, SKI of the new key, AKI = the CA's key id, valid from five minutes
 * ago (never before the CA) for `validityDays` (never beyond the CA).
 */
export async function signLeaf(
  x509: typeof X509,
  ca: LoadedCa,
  leaf: {
    subject: X509.Name;
    spec: NewKeySpec;
    extensions: (publicKey: webcrypto.CryptoKey) => X509.Extension[];
    sans: SanEntry[];
    now: Date;
    validityDays?: number;
  },
): Promise<NewCert> {
  const keys = (await webcrypto.subtle.generateKey(leaf.spec.gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const exts = leaf.extensions(keys.publicKey);
  exts.push(
    new x509.SubjectAlternativeNameExtension(
      leaf.sans.map((s) => ({ type: s.type, value: s.value })),
      false,
    ),
  );
  exts.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  exts.push(caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey));

  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 1) & 0x7f || 1;
  const now = leaf.now.getTime();
  const notBefore = new Date(Math.max(now - 5 * 60_000, ca.cert.notBefore.getTime()));
  const notAfter = new Date(Math.min(now + (leaf.validityDays ?? 365) * DAY_MS, ca.cert.notAfter.getTime()));
  // whole seconds: X.509 times have no fractions
  notBefore.setMilliseconds(0);
  notAfter.setMilliseconds(0);

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: leaf.subject,
    issuer: new x509.Name(ca.cert.subjectName.toArrayBuffer()),
    notBefore,
    notAfter,
    signingAlgorithm: ca.signer.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.signer.key,
    extensions: exts,
  });
  if (!(await issuedBy(cert, ca.cert))) throw new Error('internal error: the new certificate does not verify against the CA');

  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: leaf.spec.pem, format: 'pem' }).toString();
  return {
    certPem: `${cert.toString('pem').trim()}\n`,
    keyPem,
    serial: cert.serialNumber,
    subject: cert.subject,
    sans: leaf.sans.map(formatSan),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    keyAlgorithm: leaf.spec.describe,
  };
}

export function defaultKeyUsage(x509: typeof X509, spec: NewKeySpec): X509.KeyUsagesExtension {
  // kubeadm: keyEncipherment only for RSA keys
  const flags = spec.pem === 'pkcs1' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  return new x509.KeyUsagesExtension(flags, true);
}
