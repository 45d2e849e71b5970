/**
 * TEST SUPPORT: a real, throwaway Kubernetes control plane on one loopback
 * address: etcd (single member) + kube-apiserver (TLS, client-cert auth, RBAC)
 * + kube-controller-manager (disruption, daemonset, deployment, replicaset) +
 * kube-scheduler. No kubelet: pair it with src/lab/node-agent.ts.
 *
 * Binaries come from scripts/build-kube.sh
 * (/var/cache/cpmigrate/kube/<scripts/kube-version>/bin, or $CPM_KUBE_BIN);
 * etcd from /usr/bin/etcd (or $CPM_ETCD_BIN). Certificates are made with the
 * openssl CLI in a temp dir that stop() removes ($CPM_KEEP_KUBE_DIR=1 keeps it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from './net';

export { freePort };

export interface KubeControlPlaneOptions {
  /** loopback address every component binds to; default 127.0.3.1 */
  ip?: string;
  /** run kube-controller-manager; default true */
  controllerManager?: boolean;
  /** controllers for kube-controller-manager; default disruption,daemonset,deployment,replicaset */
  controllers?: string[];
  /** run kube-scheduler; default true */
  scheduler?: boolean;
  /** extra kube-apiserver flags (--name=value) */
  apiserverFlags?: string[];
  /** bound for etcd + apiserver readiness; default 90 s */
  readyTimeoutMs?: number;
  /** print progress lines to stderr */
  verbose?: boolean;
}

export interface KubeControlPlane {
  ip: string;
  /** https://IP:PORT */
  server: string;
  etcdURL: string;
  /** temp dir holding certs, data and logs */
  dir: string;
  caCertPath: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  /** the exact kube-apiserver arguments used */
  apiserverArgs: string[];
  /** milliseconds from start to /readyz OK (apiserver), and to everything started */
  timings: { etcdMs: number; apiserverReadyMs: number; totalMs: number };
  /** write a kubeconfig for a client cert (CN, groups) signed by the cluster CA, or by a foreign CA (`rogue`) */
  writeClientKubeconfig(opts: { cn: string; groups?: string[]; rogue?: boolean; caCertPath?: string; file: string }): string;
  /** last lines of a component log (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) */
  logTail(component: string, lines?: number): string;
  stop(): Promise<void>;
}

const REPO_ROOT = path.join(__dirname, '..', '..');

export function kubeVersion(): string {
  return readFileSync(path.join(REPO_ROOT, 'scripts', 'kube-version'), 'utf8').trim();
}

/** Where the kube binaries are expected. */
export function kubeBinDir(): string {
  return process.env.CPM_KUBE_BIN ?? path.join(process.env.CPM_KUBE_CACHE ?? '/var/cache/cpmigrate/kube', kubeVersion(), 'bin');
}

export const KUBE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

/** undefined when everything needed is installed, else why not (for describe.skipIf messages). */
export function kubeControlPlaneUnavailable(): string | undefined {
  const missing = KUBE_BINARIES.filter((b) => !existsSync(path.join(kubeBinDir(), b)));
  if (missing.length) return `missing ${missing.join(', ')} in ${kubeBinDir()} (run scripts/build-kube.sh)`;
  if (!existsSync(etcdBin())) return `missing etcd at ${etcdBin()}`;
  return undefined;
}

function etcdBin(): string {
  return process.env.CPM_ETCD_BIN ?? '/usr/bin/etcd';
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA-signed EC key + cert. `ext` is an openssl extension section body. */
function issueCert(dir: string, base: string, subj: string, ext: string, ca: string): void {
  openssl(
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', subj],
    dir,
  );
  writeFileSync(path.join(dir, `${base}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${base}.crt`,
      '-days',
      '3',
      '-sha256',
      '-extfile',
      `${base}.ext`,
    ],
    dir,
  );
}

function makeCA(dir: string, base: string, cn: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.crt`,
      '-days',
      '3',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
}

function b64(file: string): string {
  return readFileSync(file).toString('base64');
}

function kubeconfigYaml(server: string, caFile: string, certFile: string, keyFile: string, user: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caFile)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(certFile)}`,
    `    client-key-data: ${b64(keyFile)}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    `    user: ${user}`,
    'current-context: test',
    '',
  ].join('\n');
}

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  logFile: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live)
      if (c.pid && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
  });
}

function startProc(name: string, bin: string, args: string[], dir: string): Proc {
  const logFile = path.join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: dir });
  closeSync(fd);
  live.add(child);
  installExitHook();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    });
    child.once('error', () => {
      live.delete(child);
      resolve(-1);
    });
  });
  return { name, child, exited, logFile };
}

async function stopProc(p: Proc, graceMs = 5_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || !p.child.pid) return;
  try {
    process.kill(p.child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const done = await Promise.race([p.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
  if (!done) {
    try {
      process.kill(p.child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    await p.exited;
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function httpsGet(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...tls, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: string, timeoutMs: number, procs: Proc[], check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${tail(dead.logFile)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${procs.map((p) => `--- ${p.name}\n${tail(p.logFile, 15)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Start etcd + kube-apiserver (+ controller-manager + scheduler) and wait until /readyz answers ok. */
export async function startKubeControlPlane(opts: KubeControlPlaneOptions = {}): Promise<KubeControlPlane> {
  const unavailable = kubeControlPlaneUnavailable();
  if (unavailable) throw new Error(`cannot start a test control plane: ${unavailable}`);
  const t0 = Date.now();
  const ip = opts.ip ?? '127.0.3.1';
  const bin = kubeBinDir();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const say = (msg: string): void => {
    if (opts.verbose) process.stderr.write(`[kube-control-plane ${ip}] ${msg}\n`);
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-kube-'));
  const procs: Proc[] = [];
  const cleanup = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await stopProc(p);
    if (process.env.CPM_KEEP_KUBE_DIR !== '1') rmSync(dir, { recursive: true, force: true });
  };

  try {
    // --- certificates
    makeCA(dir, 'ca', 'cpmigrate-test-ca');
    issueCert(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n` +
        `subjectAltName=IP:${ip},IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n`,
      'ca',
    );
    const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
    issueCert(dir, 'admin', '/O=system:masters/CN=admin', clientExt, 'ca');
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
    openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);

    // --- etcd
    const [etcdPort, peerPort, apiPort] = [await freePort(ip), await freePort(ip), await freePort(ip)];
    const etcdURL = `http://${ip}:${etcdPort}`;
    const peerURL = `http://${ip}:${peerPort}`;
    const etcd = startProc(
      'etcd',
      etcdBin(),
      [
        '--name=test',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdURL}`,
        `--advertise-client-urls=${etcdURL}`,
        `--listen-peer-urls=${peerURL}`,
        `--initial-advertise-peer-urls=${peerURL}`,
        `--initial-cluster=test=${peerURL}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-outputs=stderr',
      ],
      dir,
    );
    procs.push(etcd);
    await waitFor('etcd /health', readyTimeoutMs, procs, async () => {
      const res = await fetch(`${etcdURL}/health`);
      return res.ok && (await res.text()).includes('"true"');
    });
    const etcdMs = Date.now() - t0;
    say(`etcd ready at ${etcdURL} in ${etcdMs} ms`);

    // --- kube-apiserver
    const server = `https://${ip}:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdURL}`,
      `--bind-address=${ip}`,
      `--advertise-address=${ip}`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${path.join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${path.join(dir, 'apiserver.key')}`,
      `--client-ca-file=${path.join(dir, 'ca.crt')}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      '--service-cluster-ip-range=10.96.0.0/12',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      ...(opts.apiserverFlags ?? []),
    ];
    const apiserver = startProc('kube-apiserver', path.join(bin, 'kube-apiserver'), apiserverArgs, dir);
    procs.push(apiserver);
    const tls = { ca: readFileSync(path.join(dir, 'ca.crt')), cert: readFileSync(path.join(dir, 'admin.crt')), key: readFileSync(path.join(dir, 'admin.key')) };
    await waitFor('kube-apiserver /readyz', readyTimeoutMs, procs, async () => (await httpsGet(`${server}/readyz`, tls)).status === 200);
    const apiserverReadyMs = Date.now() - t0;
    say(`kube-apiserver ready at ${server} in ${apiserverReadyMs} ms`);

    const kubeconfigPath = path.join(dir, 'admin.conf');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, path.join(dir, 'ca.crt'), path.join(dir, 'admin.crt'), path.join(dir, 'admin.key'), 'admin'), {
      mode: 0o600,
    });

    // --- controller-manager and scheduler (admin kubeconfig, no serving port, no leader election)
    if (opts.controllerManager !== false) {
      const controllers = (opts.controllers ?? ['disruption', 'daemonset', 'deployment', 'replicaset']).join(',');
      procs.push(
        startProc(
          'kube-controller-manager',
          path.join(bin, 'kube-controller-manager'),
          [`--kubeconfig=${kubeconfigPath}`, `--controllers=${controllers}`, '--leader-elect=false', '--secure-port=0'],
          dir,
        ),
      );
    }
    if (opts.scheduler !== false) {
      procs.push(
        startProc('kube-scheduler', path.join(bin, 'kube-scheduler'), [`--kubeconfig=${kubeconfigPath}`, '--leader-elect=false', '--secure-port=0'], dir),
      );
    }
    // give them a moment to fail fast on bad flags
    await new Promise((r) => setTimeout(r, 300));
    const dead = procs.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited at start (${dead.child.exitCode}):\n${tail(dead.logFile)}`);

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const totalMs = Date.now() - t0;
    say(`control plane up in ${totalMs} ms (dir ${dir})`);

    let stopped = false;
    return {
      ip,
      server,
      etcdURL,
      dir,
      caCertPath: path.join(dir, 'ca.crt'),
      kubeconfigPath,
      kc,
      apiserverArgs,
      timings: { etcdMs, apiserverReadyMs, totalMs },
      writeClientKubeconfig({ cn, groups = [], rogue = false, caCertPath, file }) {
        const ca = rogue ? 'rogue-ca' : 'ca';
        if (rogue && !existsSync(path.join(dir, 'rogue-ca.crt'))) makeCA(dir, 'rogue-ca', 'not-the-cluster-ca');
        const base = `client-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}-${rogue ? 'rogue' : 'ok'}`;
        const subj = `${groups.map((g) => `/O=${g}`).join('')}/CN=${cn}`;
        issueCert(dir, base, subj, clientExt, ca);
        writeFileSync(file, kubeconfigYaml(server, caCertPath ?? path.join(dir, 'ca.crt'), path.join(dir, `${base}.crt`), path.join(dir, `${base}.key`), cn), {
          mode: 0o600,
        });
        return file;
      },
      logTail(component, lines = 40) {
        return tail(path.join(dir, `${component}.log`), lines);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
