/**
 * A CA and certificates for a Temporal server with mTLS on the frontend (and
 * internode), in the layout scripts/temporal-cluster.sh takes (CPM_TC_TLS_DIR):
 * ca.pem, server.pem / server-key.pem (serverAuth + clientAuth: the server's
 * own system worker presents it to the frontend; SANs localhost, 127.0.0.1),
 * client.pem / client-key.pem (clientAuth), and a second, unrelated CA's client
 * certificate (rogue.pem / rogue-key.pem) that the server must refuse.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openssl } from './pki';

async function key(file: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  await chmod(file, 0o600);
}

async function ca(dir: string, name: string, cn: string): Promise<void> {
  await key(path.join(dir, `${name}-key.pem`));
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    path.join(dir, `${name}-key.pem`),
    '-out',
    path.join(dir, `${name}.pem`),
    '-days',
    '30',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
}

async function leaf(dir: string, caName: string, name: string, cn: string, ext: string[]): Promise<void> {
  const f = (n: string) => path.join(dir, n);
  await key(f(`${name}-key.pem`));
  await openssl(['req', '-new', '-key', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
  await writeFile(
    f(`${name}.ext`),
    [
      '[v3]',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      ...ext,
      '',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    f(`${name}.csr`),
    '-CA',
    f(`${caName}.pem`),
    '-CAkey',
    f(`${caName}-key.pem`),
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    f(`${name}.ext`),
    '-extensions',
    'v3',
    '-out',
    f(`${name}.pem`),
  ]);
}

export async function makeTemporalTls(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await ca(dir, 'ca', 'cpmigrate test Temporal CA');
  await leaf(dir, 'ca', 'server', 'localhost', ['extendedKeyUsage=serverAuth,clientAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  await leaf(dir, 'ca', 'client', 'cpmigrate-worker', ['extendedKeyUsage=clientAuth']);
  await ca(dir, 'rogue-ca', 'some other CA');
  await leaf(dir, 'rogue-ca', 'rogue', 'cpmigrate-worker', ['extendedKeyUsage=clientAuth']);
}
