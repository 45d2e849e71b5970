/**
 * A real etcd cluster for tests: one etcd 3.4 process per "host" on a
 * loopback address (127.0.1.x:2379/2380), each host a private mount namespace
 * (see local-hostops.ts) with its own config, data dir, pid file and log under
 * a temp dir. The old masters are started here (initial-cluster-state new);
 * new masters are started by the activities through the plan's service
 * commands, which are the same scripts:
 *
 *   start:  setsid etcd --config-file MOUNT/etc/etcd/etcd.conf.yml in the background, pid to MOUNT/run/etcd.pid
 *   stop:   SIGTERM the pid (SIGKILL after 10 s), remove the pid file
 *   status: the pid is alive (and not a zombie: nothing reaps orphans here)
 *
 * Processes are only ever stopped by their recorded pid. `stop()` kills every
 * etcd this lab started and removes the temp dir.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { etcdAccess, etcdHealth } from '../../src/lib/etcd';
import { renderEtcdConfig } from '../../src/lib/etcd-config';
import { serviceCommand } from '../../src/lib/services';
import { sshTargetOf } from '../../src/plan/hosts';
import { planSchema, type Plan, type PlanInput } from '../../src/plan/schema';
import { LocalNamespaceHostOps } from './local-hostops';

export interface LabHost {
  name: string;
  address: string;
}

export interface EtcdLab {
  base: string;
  /** the path every host sees as its own directory */
  mount: string;
  plan: Plan;
  hostOps: LocalNamespaceHostOps;
  hostDir(name: string): string;
  /** pid of the host's etcd, if its pid file exists */
  pidOf(name: string): number | undefined;
  isRunning(name: string): boolean;
  /** SIGKILL the host's etcd by pid (a crash) */
  kill(name: string): void;
  /** run the plan's start command on the host */
  start(name: string): Promise<void>;
  /** tail of the host's etcd log */
  log(name: string, lines?: number): string;
  /** wait until etcdHealth over the given endpoints is healthy */
  waitHealthy(endpoints: string[], timeoutMs?: number): Promise<void>;
  /** a copy of the plan with another etcd service (e.g. a start command that does nothing) */
  planWith(patch: (p: PlanInput) => void): Plan;
  /** pids of every etcd this lab's hosts started (from the pid files) */
  pidsStarted(): number[];
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const labs = new Set<EtcdLab>();
process.on('exit', () => {
  for (const l of labs) for (const pid of l.pidsStarted()) killIfOurs(pid, l.base, 'SIGKILL');
});

function killIfOurs(pid: number, base: string, signal: NodeJS.Signals): void {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('etcd') || !cmdline.includes(base)) return;
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

/**
 * Test PKI for an https lab: a CA, one server+peer certificate for every lab
 * address (kubeadm layout under each host's MOUNT/pki/etcd), and a client
 * certificate for the worker (BASE/client). Needs openssl.
 */
function makePki(base: string, hostDirs: string[], addresses: string[]): { caFile: string; certFile: string; keyFile: string } {
  const dir = path.join(base, 'pki-src');
  mkdirSync(dir, { recursive: true });
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=cpmigrate-test-etcd-ca', '-days', '2');
  const leaf = (name: string, ext: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ossl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  // 127.0.0.1 too: on loopback, peer connections leave from 127.0.0.1 and etcd checks the peer certificate's IP SAN
  leaf(
    'server',
    `subjectAltName=${[...addresses, '127.0.0.1'].map((a) => `IP:${a}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n`,
  );
  leaf('client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  for (const h of hostDirs) {
    const etcdPki = path.join(h, 'pki', 'etcd');
    mkdirSync(etcdPki, { recursive: true });
    copyFileSync(path.join(dir, 'ca.crt'), path.join(etcdPki, 'ca.crt'));
    for (const kind of ['server', 'peer']) {
      copyFileSync(path.join(dir, 'server.crt'), path.join(etcdPki, `${kind}.crt`));
      copyFileSync(path.join(dir, 'server.key'), path.join(etcdPki, `${kind}.key`));
    }
  }
  return { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'client.crt'), keyFile: path.join(dir, 'client.key') };
}

/** `tuning`: YAML lines added to every old member's config (non-default settings the new members must carry). */
/**
 * `etcdBinary`: the etcd every old master runs (default Debian's /usr/bin/etcd, 3.4); `newEtcdBinary`: what the new
 * masters' start command runs (default the same). Each host gets MOUNT/bin/etcd → its binary; BIN/etcd, beside the start script, runs it.
 */
export async function startEtcdLab(opts: {
  cluster: string;
  oldMasters: LabHost[];
  newMasters: LabHost[];
  tls?: boolean;
  tuning?: string[];
  etcdBinary?: string;
  newEtcdBinary?: string;
}): Promise<EtcdLab> {
  for (const tool of ['/usr/bin/etcd', '/usr/bin/unshare'])
    if (!existsSync(tool)) throw new Error(`${tool} is missing (apt-get install etcd-server util-linux)`);
  const base = mkdtempSync(path.join(os.tmpdir(), 'cpmigrate-etcd-'));
  const mount = path.join(base, 'host');
  const bin = path.join(base, 'bin');
  await mkdir(mount, { recursive: true });
  await mkdir(bin, { recursive: true });
  const hostDir = (name: string) => path.join(base, 'hosts', name);
  const pidFile = (name: string) => path.join(hostDir(name), 'run', 'etcd.pid');

  const aliveFn = `alive() { local p s; p=$(cat "$M/run/etcd.pid" 2>/dev/null) || return 1; s=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1) || return 1; [ -n "$s" ] && [ "$s" != Z ]; }`;
  const scripts = {
    'etcd-start': `#!/bin/bash
M=${mount}
${aliveFn}
mkdir -p "$M/run"
if alive; then exit 0; fi
setsid ${bin}/etcd --config-file "$M/etc/etcd/etcd.conf.yml" >>"$M/run/etcd.log" 2>&1 </dev/null &
echo $! > "$M/run/etcd.pid"
`,
    'etcd-stop': `#!/bin/bash
M=${mount}
${aliveFn}
if ! alive; then rm -f "$M/run/etcd.pid"; exit 0; fi
p=$(cat "$M/run/etcd.pid")
kill -TERM "$p"
for i in $(seq 1 100); do alive || break; sleep 0.1; done
if alive; then kill -KILL "$p"; fi
rm -f "$M/run/etcd.pid"
`,
    'etcd-status': `#!/bin/bash
M=${mount}
${aliveFn}
alive
`,
  };
  for (const [name, text] of Object.entries(scripts)) await writeFile(path.join(bin, name), text, { mode: 0o755 });
  // BIN/etcd runs the host's own binary, MOUNT/bin/etcd (a link made here for the hosts given), else Debian's: the plan
  // starts BIN/etcd-start, and the version probe finds BIN/etcd beside it and asks the same binary the host runs
  await writeFile(path.join(bin, 'etcd'), `#!/bin/bash\nM=${mount}\nif [ -x "$M/bin/etcd" ]; then exec "$M/bin/etcd" "$@"; fi\nexec /usr/bin/etcd "$@"\n`, {
    mode: 0o755,
  });
  const binaryOf = (h: LabHost) => (opts.oldMasters.includes(h) ? opts.etcdBinary : (opts.newEtcdBinary ?? opts.etcdBinary)) ?? '/usr/bin/etcd';
  for (const h of [...opts.oldMasters, ...opts.newMasters]) {
    const hb = path.join(hostDir(h.name), 'bin');
    await mkdir(hb, { recursive: true });
    await symlink(binaryOf(h), path.join(hb, 'etcd'));
  }

  const scheme = opts.tls ? 'https' : 'http';
  const all = [...opts.oldMasters, ...opts.newMasters];
  const tls = opts.tls
    ? makePki(
        base,
        all.map((h) => hostDir(h.name)),
        all.map((h) => h.address),
      )
    : undefined;
  const member = (h: LabHost) => ({
    name: h.name,
    address: h.address,
    etcd: { name: h.name, clientURL: `${scheme}://${h.address}:2379`, peerURL: `${scheme}://${h.address}:2380` },
  });
  const input: PlanInput = {
    apiVersion: 'cpmigrate/v1',
    kind: 'MigrationPlan',
    cluster: opts.cluster,
    kubeconfig: '/root/.kube/config',
    defaults: { ssh: { user: 'root', privateKeyPath: '/root/.ssh/id_ed25519', knownHostsPath: '/root/.ssh/known_hosts' } },
    oldMasters: opts.oldMasters.map(member),
    newMasters: opts.newMasters.map(member),
    etcd: {
      ...(tls ? { tls } : {}),
      snapshotPath: path.join(base, 'backups', `${opts.cluster}-before-migration.db`),
      prepareDataDir: [`mkdir -p -m 700 ${mount}/var/lib/etcd`],
      maxRaftIndexLag: 1000,
      service: { type: 'commands', start: `${bin}/etcd-start`, stop: `${bin}/etcd-stop`, status: `${bin}/etcd-status` },
    },
    apiserver: { service: { type: 'systemd', unit: 'kube-apiserver' } },
    controllerManager: { service: { type: 'systemd', unit: 'kube-controller-manager' } },
    scheduler: { service: { type: 'systemd', unit: 'kube-scheduler' } },
    loadBalancer: { vip: '127.0.1.30', service: { type: 'systemd', unit: 'apiserver-nginx-lb' } },
    keepalived: { interface: 'lo', virtualRouterId: 51, service: { type: 'systemd', unit: 'keepalived' } },
    paths: { etcdConfig: `${mount}/etc/etcd/etcd.conf.yml`, etcdDataDir: `${mount}/var/lib/etcd`, pkiDir: `${mount}/pki` },
  };
  const plan = planSchema.parse(input);
  const hostOps = new LocalNamespaceHostOps({ mountPoint: mount, hostDir });
  const targetOf = (name: string) => {
    const h = all.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${name}`);
    return sshTargetOf(plan, h);
  };
  const pidOf = (name: string): number | undefined => {
    try {
      const n = Number(readFileSync(pidFile(name), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };

  const lab: EtcdLab = {
    base,
    mount,
    plan,
    hostOps,
    hostDir,
    pidOf,
    isRunning: (name) => {
      const p = pidOf(name);
      return p !== undefined && alive(p);
    },
    kill: (name) => {
      const p = pidOf(name);
      if (p !== undefined) killIfOurs(p, base, 'SIGKILL');
    },
    start: async (name) => {
      await hostOps.run(targetOf(name), serviceCommand(plan.etcd.service, 'start'));
    },
    log: (name, lines = 30) => {
      try {
        return readFileSync(path.join(hostDir(name), 'run', 'etcd.log'), 'utf8')
          .split('\n')
          .slice(-lines)
          .join('\n');
      } catch {
        return '(no log)';
      }
    },
    waitHealthy: async (endpoints, timeoutMs = 30_000) => {
      const t0 = Date.now();
      let last: string[] = [];
      while (Date.now() - t0 < timeoutMs) {
        const rep = await etcdHealth(etcdAccess(plan, 3_000), endpoints);
        if (rep.healthy) return;
        last = rep.problems;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`etcd not healthy after ${timeoutMs}ms: ${last.join('; ')}`);
    },
    planWith: (patch) => {
      const copy = structuredClone(input);
      patch(copy);
      return planSchema.parse(copy);
    },
    pidsStarted: () => {
      const out: number[] = [];
      const hostsDir = path.join(base, 'hosts');
      if (!existsSync(hostsDir)) return out;
      for (const name of readdirSync(hostsDir)) {
        const p = pidOf(name);
        if (p !== undefined) out.push(p);
      }
      return out;
    },
    stop: async () => {
      const pids = lab.pidsStarted();
      for (const p of pids) killIfOurs(p, base, 'SIGKILL');
      const t0 = Date.now();
      while (pids.some(alive) && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 50));
      labs.delete(lab);
      rmSync(base, { recursive: true, force: true });
    },
  };
  labs.add(lab);

  // bootstrap the old masters as a new cluster
  try {
    const initialCluster = opts.oldMasters.map((h) => ({ name: h.name, peerURLs: [`${scheme}://${h.address}:2380`] }));
    for (const h of opts.oldMasters) {
      const dir = hostDir(h.name);
      await mkdir(path.join(dir, 'etc', 'etcd'), { recursive: true });
      await mkdir(path.join(dir, 'var', 'lib', 'etcd'), { recursive: true, mode: 0o700 });
      await writeFile(
        path.join(dir, 'etc', 'etcd', 'etcd.conf.yml'),
        renderEtcdConfig({
          name: h.name,
          dataDir: plan.paths.etcdDataDir,
          peerURL: `${scheme}://${h.address}:2380`,
          clientURL: `${scheme}://${h.address}:2379`,
          initialCluster,
          state: 'new',
          pkiDir: plan.paths.pkiDir,
          token: `${opts.cluster}-${path.basename(base)}`,
        }) + (opts.tuning ?? []).map((l) => `${l}\n`).join(''),
      );
    }
    await Promise.all(opts.oldMasters.map((h) => lab.start(h.name)));
    await lab.waitHealthy(opts.oldMasters.map((h) => `${scheme}://${h.address}:2379`));
  } catch (err) {
    const logs = opts.oldMasters.map((h) => `--- ${h.name}\n${lab.log(h.name, 10)}`).join('\n');
    await lab.stop();
    throw new Error(`etcd lab did not start: ${(err as Error).message}\n${logs}`);
  }
  return lab;
}

/** `etcdctl` against the lab, for assertions independent of our client. */
export function etcdctl(endpoints: string[], ...args: string[]): string {
  return execFileSync('etcdctl', ['--endpoints', endpoints.join(','), '--command-timeout=5s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
  });
}
