/**
 * A kubeadm-like PKI directory made with the openssl CLI, for certificate
 * tests: ca.crt/ca.key (PKCS#1 RSA, as kubeadm writes), apiserver.crt/.key
 * signed by it with the given SANs, and a few other files (front-proxy CA,
 * service-account keys, etcd/ subdir) with kubeadm's modes.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export async function openssl(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP('openssl', args, { cwd: opts.cwd, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')}: ${err.stderr ?? err.message}`);
  }
}

export interface KubePkiOptions {
  /** SANs of apiserver.crt, openssl syntax: DNS:kubernetes, IP:10.0.0.1 */
  apiserverSANs: string[];
  apiserverSubject?: string;
  caDays?: number;
  apiserverDays?: number;
  /** key algorithm for ca and apiserver (default rsa) */
  keyType?: 'rsa' | 'ec';
  /** only ca.* and apiserver.* (faster) */
  minimal?: boolean;
}

async function newKey(file: string, keyType: 'rsa' | 'ec'): Promise<void> {
  if (keyType === 'rsa') {
    await openssl(['genrsa', '-traditional', '-out', file, '2048']);
  } else {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file]);
  }
  await chmod(file, 0o600);
}

/** Write a kubeadm-like pki dir into `dir` (created if needed). */
export async function makeKubePki(dir: string, opts: KubePkiOptions): Promise<void> {
  const keyType = opts.keyType ?? 'rsa';
  await mkdir(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);

  await newKey(f('ca.key'), keyType);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    String(opts.caDays ?? 3650),
    '-subj',
    '/CN=kubernetes',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);

  await newKey(f('apiserver.key'), keyType);
  const csr = f('apiserver.csr');
  await openssl(['req', '-new', '-key', f('apiserver.key'), '-out', csr, '-subj', opts.apiserverSubject ?? '/O=test-lab/CN=kube-apiserver']);
  const ext = f('apiserver.ext');
  await writeFile(
    ext,
    [
      '[v3]',
      'basicConstraints=critical,CA:FALSE',
      `keyUsage=critical,digitalSignature${keyType === 'rsa' ? ',keyEncipherment' : ''}`,
      'extendedKeyUsage=serverAuth',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      `subjectAltName=${opts.apiserverSANs.join(',')}`,
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-set_serial',
    '0x1001',
    '-days',
    String(opts.apiserverDays ?? 365),
    '-extfile',
    ext,
    '-extensions',
    'v3',
    '-out',
    f('apiserver.crt'),
  ]);
  await rm(csr);
  await rm(ext);
  await chmod(f('ca.crt'), 0o644);
  await chmod(f('apiserver.crt'), 0o644);
  if (opts.minimal) return;

  // the rest of a kubeadm pki dir (contents only need to be real-looking)
  await newKey(f('front-proxy-ca.key'), 'ec');
  await openssl(['req', '-x509', '-new', '-key', f('front-proxy-ca.key'), '-out', f('front-proxy-ca.crt'), '-days', '3650', '-subj', '/CN=front-proxy-ca']);
  await newKey(f('sa.key'), 'ec');
  await openssl(['ec', '-in', f('sa.key'), '-pubout', '-out', f('sa.pub')]);
  await chmod(f('sa.pub'), 0o644);
  await mkdir(f('etcd'), { mode: 0o750 });
  await chmod(f('etcd'), 0o750);
  await newKey(f('etcd/ca.key'), 'ec');
  await openssl(['req', '-x509', '-new', '-key', f('etcd/ca.key'), '-out', f('etcd/ca.crt'), '-days', '3650', '-subj', '/CN=etcd-ca']);
  await chmod(f('etcd/ca.crt'), 0o644);
  await chmod(f('front-proxy-ca.crt'), 0o644);
}

/**
 * A kubeadm-like etcd CA: PKI_DIR/etcd/ca.crt (0644) and ca.key (0600, PKCS#1
 * RSA 2048 by default), CN=etcd-ca, CA:TRUE, keyCertSign, SKI.
 */
export async function makeEtcdCa(pkiDir: string, opts: { keyType?: 'rsa' | 'ec'; days?: number } = {}): Promise<void> {
  const d = path.join(pkiDir, 'etcd');
  await mkdir(d, { recursive: true, mode: 0o750 });
  await newKey(path.join(d, 'ca.key'), opts.keyType ?? 'rsa');
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    path.join(d, 'ca.key'),
    '-out',
    path.join(d, 'ca.crt'),
    '-days',
    String(opts.days ?? 3650),
    '-subj',
    '/CN=etcd-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
  await chmod(path.join(d, 'ca.crt'), 0o644);
}
