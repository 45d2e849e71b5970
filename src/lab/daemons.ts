/**
 * Bringing up the old control plane in dependency order, each step waiting
 * until its daemon really serves: etcd (3 members) → kube-apiserver →
 * controller-manager + scheduler → apiserver-nginx-lb → keepalived (VIP).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APISERVER_PORT, HOSTS, LB_PORT, VIP, hostsOf, kubeBinDir, paths, type LabHost } from './layout';
import { livePid, must, run, waitFor } from './exec';
import { sleep } from '../lib/sleep';
import { etcdClientURL } from './configs';
import { mustSvc, svc, COMPONENTS, type LabComponent } from './svc';
import { inHost } from './sshd';
import { probeReadyz } from '../activities/readyz';

export const KUBE_BINS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

export function kubeVersion(): string {
  return readFileSync(join(__dirname, '..', '..', 'scripts', 'kube-version'), 'utf8').trim();
}

export const kubeBinsPresent = (dir: string) => KUBE_BINS.every((b) => existsSync(join(dir, b)));

/** Waits for scripts/build-kube.sh when it is still building (its lock is held). */
export async function awaitKubeBinaries(log: (m: string) => void): Promise<string> {
  const version = kubeVersion();
  const dir = kubeBinDir(version);
  if (kubeBinsPresent(dir)) return dir;
  const lock = join(dir, '..', `.lock-${version}`);
  const building = async () => existsSync(lock) && (await run(['flock', '-n', lock, 'true'])).code !== 0;
  if (!(await building())) throw new Error(`Kubernetes ${version} binaries are missing in ${dir}: run scripts/build-kube.sh (or pass --no-kube)`);
  log(`waiting for scripts/build-kube.sh to finish building ${version} into ${dir} ...`);
  while (!kubeBinsPresent(dir)) {
    if (!(await building()) && !kubeBinsPresent(dir)) throw new Error(`scripts/build-kube.sh finished but ${dir} lacks ${KUBE_BINS.join(', ')}`);
    await sleep(5_000);
  }
  return dir;
}

export async function etcdctl(args: string[], endpoints = hostsOf('old').map(etcdClientURL)): Promise<string> {
  return must(['etcdctl', `--endpoints=${endpoints.join(',')}`, '--command-timeout=5s', ...args], { timeoutMs: 15_000 });
}

/** Started and enabled at boot: the old masters run their control plane like any installed host. */
async function startAll(hosts: LabHost[], comp: LabComponent): Promise<void> {
  await Promise.all(hosts.map(async (h) => (await mustSvc(h, 'start', comp), await mustSvc(h, 'enable', comp))));
}

async function ca(): Promise<Buffer> {
  return Buffer.from(readFileSync(join(paths.pki, 'ca.crt')));
}

export async function startEtcd(): Promise<void> {
  await startAll(hostsOf('old'), 'etcd');
  await waitFor('etcd: 3 healthy members on the old masters', 30_000, async () => {
    await etcdctl(['endpoint', 'health']);
    return true;
  });
}

export async function startKube(): Promise<void> {
  const old = hostsOf('old');
  await startAll(old, 'kube-apiserver');
  const caPem = await ca();
  await Promise.all(
    old.map((h) =>
      waitFor(
        `kube-apiserver /readyz on ${h.name}`,
        120_000,
        async () => ((await probeReadyz(`${h.address}:${APISERVER_PORT}`, caPem)).ok ? true : undefined),
        500,
      ),
    ),
  );
  await startAll(old, 'kube-controller-manager');
  await startAll(old, 'kube-scheduler');
}

/** The stand-in kubelets (src/lab/kubelet.ts) on every host, talking to the API through the VIP. */
export async function startKubelets(): Promise<void> {
  await startAll(HOSTS, 'kubelet');
}

export async function startLb(): Promise<void> {
  await startAll(hostsOf('old'), 'apiserver-nginx-lb');
}

/** Which hosts hold the VIP right now. */
export async function vipHolders(): Promise<string[]> {
  const out = await Promise.all(HOSTS.map(async (h) => ((await inHost(h, 'ip -4 -o addr show')).stdout.includes(` ${VIP}/`) ? h.name : '')));
  return out.filter(Boolean);
}

export async function startKeepalived(withKube: boolean): Promise<{ vipMs: number }> {
  const t0 = Date.now();
  await startAll(hostsOf('old'), 'keepalived');
  await waitFor(`the VIP ${VIP} on one old master`, 20_000, async () => ((await vipHolders()).length === 1 ? true : undefined), 100);
  const vipMs = Date.now() - t0;
  if (withKube) {
    const caPem = await ca();
    await waitFor(
      `/readyz through the VIP ${VIP}:${LB_PORT}`,
      30_000,
      async () => ((await probeReadyz(`${VIP}:${LB_PORT}`, caPem)).ok ? true : undefined),
      200,
    );
  }
  return { vipMs };
}

export interface DaemonState {
  host: string;
  component: LabComponent;
  running: boolean;
}

export async function daemonStatus(): Promise<DaemonState[]> {
  const rows: DaemonState[] = [];
  await Promise.all(
    HOSTS.filter((h) => h.role !== 'worker').map(async (h) => {
      for (const c of COMPONENTS) rows.push({ host: h.name, component: c, running: (await svc(h, 'status', c)).code === 0 });
    }),
  );
  return rows;
}

/** Stops every daemon of every host by its pid file: VIP and LBs first, then the kube components, etcd last. */
export async function stopAllDaemons(): Promise<void> {
  const waves: LabComponent[][] = [['kubelet', 'keepalived', 'apiserver-nginx-lb'], ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver'], ['etcd']];
  for (const wave of waves) {
    await Promise.all(HOSTS.flatMap((h) => wave.map((c) => stopByPidFile(join(paths.hostDir(h.name), 'run', `${c}.pid`)))));
  }
}

/**
 * Works without the host's sshd (e.g. after a crash): plain kill by pid, checked
 * against /proc. The lab's data is thrown away next, so a daemon gets 2 s to
 * exit before SIGKILL (etcd members stopping together spend ~7 s trying to hand
 * over leadership otherwise).
 */
async function stopByPidFile(pidFile: string): Promise<void> {
  const pid = livePid(pidFile);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 20 && livePid(pidFile); i++) await sleep(100);
  if (livePid(pidFile)) process.kill(pid, 'SIGKILL');
}

export const kubeBinDirFor = (): string => kubeBinDir(kubeVersion());
