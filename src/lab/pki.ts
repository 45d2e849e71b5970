/**
 * The lab cluster's PKI, made with the openssl CLI (Debian `openssl`): a CA,
 * the apiserver serving cert (SANs: old masters, VIP, loopback, service IP),
 * service-account keys, client certs (admin, controller-manager, scheduler,
 * one per kubelet), and kubeconfigs that embed them. Idempotent: existing files are kept.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HOSTS, SERVICE_IP, VIP, hostsOf, paths } from './layout';
import { must } from './exec';

const p = (f: string) => join(paths.pki, f);

async function ensureCa(): Promise<void> {
  if (existsSync(p('ca.crt'))) return;
  await must([
    'openssl',
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '3650',
    '-subj',
    '/CN=kubernetes',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
}

interface Leaf {
  name: string;
  subject: string;
  usage: 'serverAuth' | 'clientAuth';
  sans?: string[];
  rsa?: boolean;
}

async function ensureLeaf(l: Leaf): Promise<void> {
  if (existsSync(p(`${l.name}.crt`))) return;
  const ext = p(`${l.name}.ext`);
  await writeFile(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      `keyUsage=critical,digitalSignature${l.rsa ? ',keyEncipherment' : ''}`,
      `extendedKeyUsage=${l.usage}`,
      ...(l.sans?.length ? [`subjectAltName=${l.sans.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  const key = l.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await must(['openssl', 'req', '-new', ...key, '-nodes', '-keyout', p(`${l.name}.key`), '-out', p(`${l.name}.csr`), '-subj', l.subject]);
  await must([
    'openssl',
    'x509',
    '-req',
    '-in',
    p(`${l.name}.csr`),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-set_serial',
    `0x${randomBytes(12).toString('hex')}`,
    '-days',
    '3650',
    '-extfile',
    ext,
    '-out',
    p(`${l.name}.crt`),
  ]);
  await rm(p(`${l.name}.csr`));
  await rm(ext);
}

export function apiserverSans(): string[] {
  return [
    ...hostsOf('old').map((h) => `IP:${h.address}`),
    `IP:${VIP}`,
    'IP:127.0.0.1',
    `IP:${SERVICE_IP}`,
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
}

export async function pkiUp(): Promise<void> {
  await mkdir(paths.pki, { recursive: true, mode: 0o700 });
  await ensureCa();
  if (!existsSync(p('sa.key'))) {
    await must(['openssl', 'genrsa', '-out', p('sa.key'), '2048']);
    await must(['openssl', 'rsa', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]);
  }
  await Promise.all([
    ensureLeaf({ name: 'apiserver', subject: '/CN=kube-apiserver', usage: 'serverAuth', sans: apiserverSans(), rsa: true }),
    ensureLeaf({ name: 'admin', subject: '/O=system:masters/CN=kubernetes-admin', usage: 'clientAuth' }),
    ensureLeaf({ name: 'controller-manager', subject: '/CN=system:kube-controller-manager', usage: 'clientAuth' }),
    ensureLeaf({ name: 'scheduler', subject: '/CN=system:kube-scheduler', usage: 'clientAuth' }),
    ...HOSTS.map((h) => ensureLeaf({ name: `kubelet-${h.name}`, subject: `/O=system:nodes/CN=system:node:${h.name}`, usage: 'clientAuth' })),
  ]);
}

export const pkiFile = (f: string) => readFile(p(f), 'utf8');

/** A kubeconfig with the CA and a client cert embedded (kubeadm style). */
export async function kubeconfig(server: string, user: string, certName: string): Promise<string> {
  const b64 = async (f: string) => Buffer.from(await pkiFile(f)).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server, 'certificate-authority-data': await b64('ca.crt') } }],
    users: [{ name: user, user: { 'client-certificate-data': await b64(`${certName}.crt`), 'client-key-data': await b64(`${certName}.key`) } }],
    contexts: [{ name: `${user}@kubernetes`, context: { cluster: 'kubernetes', user } }],
    'current-context': `${user}@kubernetes`,
  });
}
