/**
 * npm run lab -- up [--no-kube] [--vrrp multicast|unicast|unicast-old]
 *                  [--old N] [--new M] [--shared NAME…] [--failed NAME] [--strategy S] | down | status
 *
 * up: builds the "before" cluster in that shape (default: the runbook's 3 → 3; idempotent:
 * a lab that is up in the same shape is reused) and prints the path of the plan file it
 * generated. --failed powers that old master off once everything is up (the plan marks it
 * state: failed). down: stops every daemon by
 * pid and removes namespaces, bridge and lab state. status: hosts and daemons.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_SHAPE, HOSTS, hostsForShape, LAB_DIR, VIP, paths, readShape, sameShape, setShape, writeShape, type LabShape } from './layout';
import { powerOff } from './faults';
import { netDown, netStatus, netUp } from './net';
import { hostfsDown, hostfsUp } from './hostfs';
import { sshdDown, sshdPid, sshdUp } from './sshd';
import { installSvc, uninstallSvc } from './svc';
import { pkiUp } from './pki';
import { writeConfigs, type VrrpMode } from './configs';
import {
  awaitKubeBinaries,
  daemonStatus,
  etcdctl,
  kubeBinDirFor,
  startEtcd,
  startKeepalived,
  startKube,
  startKubelets,
  startLb,
  stopAllDaemons,
  vipHolders,
} from './daemons';
import { writePlan } from './plan';
import { clusterUp } from './cluster';
import { agentDown, agentUp, agentPid } from './agent';
import { misconfigureClients } from './misconfigure';

export interface UpOptions {
  kube: boolean;
  vrrp: VrrpMode;
  /** default: the runbook's 3 → 3 */
  shape?: LabShape;
  log?: (m: string) => void;
}

interface ReadyMarker {
  kube: boolean;
  vrrp: VrrpMode;
  shape?: LabShape;
  plan: string;
  at: string;
  timingsMs: Record<string, number>;
}

const MARKER = join(LAB_DIR, '.cpmigrate-lab');

async function readReady(): Promise<ReadyMarker | undefined> {
  try {
    return JSON.parse(await readFile(paths.ready, 'utf8')) as ReadyMarker;
  } catch {
    return undefined;
  }
}

/** The lab is usable as it is: built with the same options, network and sshds alive. */
async function reusable(opts: UpOptions): Promise<ReadyMarker | undefined> {
  const ready = await readReady();
  if (!ready || ready.kube !== opts.kube || ready.vrrp !== opts.vrrp) return undefined;
  if (!sameShape(ready.shape ?? DEFAULT_SHAPE, opts.shape ?? DEFAULT_SHAPE) || !sameShape(readShape(), opts.shape ?? DEFAULT_SHAPE)) return undefined;
  const net = await netStatus();
  if (!net.bridge || net.missing.length) return undefined;
  // a failed host was powered off on purpose (and a reused lab has had a migration: callers rebuild it)
  if (HOSTS.some((h) => !h.failed && !sshdPid(h))) return undefined;
  return ready;
}

export async function labUp(opts: UpOptions): Promise<ReadyMarker & { reused: boolean }> {
  const log = opts.log ?? (() => undefined);
  hostsForShape(opts.shape ?? DEFAULT_SHAPE); // a bad shape is refused before anything is torn down
  const existing = await reusable(opts);
  if (existing) return { ...existing, reused: true };
  if (existsSync(LAB_DIR) || (await netStatus()).bridge) {
    log('a previous lab is partly up or was built with other options: tearing it down first');
    await labDown();
  }
  const shape = opts.shape ?? DEFAULT_SHAPE;
  setShape(shape);
  const timingsMs: Record<string, number> = {};
  const t0 = Date.now();
  let t = t0;
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const v = await fn();
    timingsMs[name] = Date.now() - t;
    log(`${name}: ${timingsMs[name]} ms`);
    t = Date.now();
    return v;
  };
  const kubeBin = opts.kube ? await phase('kube binaries', () => awaitKubeBinaries(log)) : kubeBinDirFor();
  await phase('network', async () => {
    await hostfsUp(kubeBin);
    await writeFile(MARKER, 'state of `npm run lab`; removed by `npm run lab -- down`\n');
    writeShape(shape);
    await netUp();
  });
  await phase('sshd', async () => {
    await installSvc();
    await sshdUp();
  });
  await phase('pki+configs', async () => {
    await pkiUp();
    await writeConfigs(opts.vrrp);
  });
  await phase('etcd', startEtcd);
  if (opts.kube) await phase('kube-apiserver+cm+scheduler', startKube);
  await phase('nginx', startLb);
  const { vipMs } = await phase('keepalived', () => startKeepalived(opts.kube));
  timingsMs.vipAfterKeepalivedStart = vipMs;
  if (opts.kube) {
    await phase('stand-in kubelets', startKubelets);
    await phase('node agent', agentUp);
    await phase('cluster objects', clusterUp);
  }
  const { file } = await phase('plan', writePlan);
  const failed = HOSTS.filter((h) => h.failed);
  if (failed.length) await phase(`power off ${failed.map((h) => h.name).join(', ')}`, async () => Promise.all(failed.map((h) => powerOff(h.name))));
  timingsMs.total = Date.now() - t0;
  const ready: ReadyMarker = { kube: opts.kube, vrrp: opts.vrrp, shape, plan: file, at: new Date().toISOString(), timingsMs };
  await writeFile(paths.ready, JSON.stringify(ready, null, 2));
  return { ...ready, reused: false };
}

export async function labDown(): Promise<void> {
  await agentDown();
  await stopAllDaemons();
  await sshdDown();
  await netDown();
  await hostfsDown();
  await uninstallSvc();
  if (existsSync(LAB_DIR)) {
    if (!existsSync(MARKER) && !existsSync(paths.ready) && !existsSync(join(LAB_DIR, 'hosts'))) {
      throw new Error(`${LAB_DIR} does not look like a cpmigrate lab dir (no ${MARKER}); not removing it`);
    }
    await rm(LAB_DIR, { recursive: true, force: true });
  }
}

async function status(): Promise<void> {
  const net = await netStatus();
  const ready = await readReady();
  console.log(
    `lab: ${ready ? `up since ${ready.at} (kube: ${ready.kube}, vrrp: ${ready.vrrp})` : 'not up'}; bridge: ${net.bridge ? 'present' : 'missing'}; plan: ${ready?.plan ?? '-'}`,
  );
  if (!net.bridge || net.missing.length === HOSTS.length) return;
  const rows = await daemonStatus();
  const holders = await vipHolders();
  for (const h of HOSTS) {
    const up = rows.filter((r) => r.host === h.name && r.running).map((r) => r.component);
    const ns = net.missing.includes(h.name) ? 'NO NAMESPACE' : `sshd ${sshdPid(h) ?? 'DOWN'}`;
    console.log(
      `${h.name.padEnd(12)} ${h.role.padEnd(6)} ${h.address.padEnd(13)} ${ns.padEnd(12)} ${holders.includes(h.name) ? `VIP ${VIP} ` : ''}${up.join(' ') || (h.role === 'worker' ? '' : '(no daemons)')}`,
    );
  }
  console.log(`node agent: ${agentPid() ?? 'not running'}`);
  const members = await etcdctl(
    ['member', 'list', '-w', 'table'],
    HOSTS.filter((h) => h.role !== 'worker').map((h) => `http://${h.address}:2379`),
  ).catch((e: Error) => e.message);
  console.log(members.trim());
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** every value of a repeatable flag: --shared a --shared b, or --shared a b (up to the next --flag) */
function flags(args: string[], name: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a !== name) return;
    for (let j = i + 1; j < args.length && !(args[j] ?? '').startsWith('--'); j++) out.push(args[j] as string);
  });
  return out;
}

/** --old N --new M [--shared NAME…] [--failed NAME] [--strategy S]; checked by hostsForShape */
export function shapeArgs(args: string[]): LabShape {
  const num = (name: string, dflt: number): number => {
    const v = flag(args, name);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v)) throw new Error(`${name} must be a number of masters (1 to 7), not ${v}`);
    return Number(v);
  };
  const strategy = flag(args, '--strategy');
  if (strategy !== undefined && strategy !== 'grow-then-shrink' && strategy !== 'rolling')
    throw new Error(`--strategy must be grow-then-shrink or rolling, not ${strategy}`);
  const failed = flag(args, '--failed');
  return { old: num('--old', 3), new: num('--new', 3), shared: flags(args, '--shared'), ...(failed ? { failed } : {}), ...(strategy ? { strategy } : {}) };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (process.getuid?.() !== 0) {
    console.error('the lab needs root (network namespaces, bridge, bind mounts)');
    return 1;
  }
  switch (cmd) {
    case 'up': {
      const vrrp = (flag(args, '--vrrp') ?? 'multicast') as VrrpMode;
      if (!['multicast', 'unicast', 'unicast-old'].includes(vrrp)) throw new Error(`--vrrp must be multicast, unicast or unicast-old, not ${vrrp}`);
      const r = await labUp({ kube: !args.includes('--no-kube'), vrrp, shape: shapeArgs(args), log: (m) => console.error(`[lab] ${m}`) });
      console.error(r.reused ? `[lab] already up since ${r.at}` : `[lab] up in ${r.timingsMs.total} ms`);
      console.log(r.plan);
      return 0;
    }
    case 'down':
      await labDown();
      console.error('[lab] down');
      return 0;
    case 'status':
      await status();
      return 0;
    case 'misconfigure-clients': {
      const m = await misconfigureClients();
      console.error(`[lab] ${m.node}'s kubelet.conf and ConfigMap kube-system/kube-proxy now use ${m.server} (an old master) instead of the LB`);
      return 0;
    }
    default:
      console.error(
        'usage: npm run lab -- up [--no-kube] [--vrrp multicast|unicast|unicast-old] [--old N] [--new M] [--shared NAME…] [--failed NAME] [--strategy grow-then-shrink|rolling] | down | status | misconfigure-clients',
      );
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`[lab] ${err.message}`);
      process.exit(1);
    },
  );
}
