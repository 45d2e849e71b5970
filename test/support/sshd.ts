/**
 * A real OpenSSH server for tests: `/usr/sbin/sshd -D -e -f CONF` on a
 * loopback address (127.0.2.x), with a freshly generated ed25519 host key and
 * an authorized ed25519 user key. Optionally runs in a private mount namespace
 * with bind mounts, so two "hosts" can see different contents at the same path.
 *
 * Needs root (sshd as root, root login by key) and openssh-server.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { shq } from '../../src/lib/shell';
import type { SshTarget } from '../../src/plan/hosts';
import { freePort } from './net';

export { freePort };

const execFileP = promisify(execFile);

export interface BindMount {
  /** directory on the real filesystem */
  source: string;
  /** existing directory it is mounted over, only for this sshd's sessions */
  target: string;
}

export interface StartSshdOptions {
  /** loopback address to listen on, e.g. 127.0.2.1 */
  address: string;
  /** also listen on these addresses (same port), so several plan hosts reach this sshd */
  extraAddresses?: string[];
  /** default: a free port on that address */
  port?: number;
  /** authorize this existing private key (its .pub next to it) instead of generating one */
  clientKeyPath?: string;
  /** host name used in the returned target */
  name?: string;
  /** run sshd in a private mount namespace with these bind mounts */
  bindMounts?: BindMount[];
  /** bound on waiting for the port (default 20 s: the machine is busy) */
  startTimeoutMs?: number;
}

export interface TestSshd {
  /** ready to use: root, authorized key, pinned host key fingerprint */
  target: SshTarget;
  /** SHA256:... as printed by ssh-keygen -lf */
  fingerprint: string;
  /** "ssh-ed25519 AAAA..." (no comment), for known_hosts lines */
  hostPublicKey: string;
  address: string;
  port: number;
  /** temp dir holding config, keys and pid file */
  dir: string;
  clientKeyPath: string;
  /** everything sshd wrote to stderr so far (-e, LogLevel VERBOSE) */
  log(): string;
  /** number of successful public-key logins seen in the log */
  acceptedLogins(): number;
  stop(): Promise<void>;
}

export async function sshKeygen(file: string, comment = 'cpmigrate-test'): Promise<void> {
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

function canConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startSshd(opts: StartSshdOptions): Promise<TestSshd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cpm-sshd-'));
  await mkdir('/run/sshd', { recursive: true });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const clientKeyPath = opts.clientKeyPath ?? path.join(dir, 'id_ed25519');
  await Promise.all([sshKeygen(hostKey, 'test-host'), opts.clientKeyPath ? Promise.resolve() : sshKeygen(clientKeyPath, 'test-client')]);
  const authorized = path.join(dir, 'authorized_keys');
  await writeFile(authorized, await readFile(`${clientKeyPath}.pub`), { mode: 0o600 });
  const port = opts.port ?? (await freePort(opts.address));
  const conf = path.join(dir, 'sshd_config');
  const pidFile = path.join(dir, 'sshd.pid');
  await writeFile(
    conf,
    [
      ...[opts.address, ...(opts.extraAddresses ?? [])].map((a) => `ListenAddress ${a}:${port}`),
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorized}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'AllowAgentForwarding no',
      'LogLevel VERBOSE',
      'MaxSessions 20',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );

  const fpOut = (await execFileP('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`])).stdout;
  const fingerprint = /(SHA256:[A-Za-z0-9+/]+)/.exec(fpOut)?.[1];
  if (!fingerprint) throw new Error(`cannot read host key fingerprint from: ${fpOut}`);
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');

  let child: ChildProcess;
  if (opts.bindMounts?.length) {
    const mounts = opts.bindMounts.map((m) => `mount --bind ${shq(m.source)} ${shq(m.target)}`).join(' && ');
    child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts} && exec /usr/sbin/sshd -D -e -f ${shq(conf)}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } else {
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  let exited: number | null | undefined;
  const exitP = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exited = code;
      resolve();
    });
  });

  const stop = async () => {
    if (exited === undefined && child.pid) {
      child.kill('SIGTERM');
      await Promise.race([exitP, sleep(5000)]);
      if (exited === undefined) {
        child.kill('SIGKILL');
        await Promise.race([exitP, sleep(2000)]);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`sshd exited (${exited}) before listening on ${opts.address}:${port}: ${log.trim()}`);
    }
    if (await canConnect(opts.address, port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sshd did not listen on ${opts.address}:${port} within ${opts.startTimeoutMs ?? 20_000} ms: ${log.trim()}`);
    }
    await sleep(50);
  }

  const target: SshTarget = {
    name: opts.name ?? `sshd-${opts.address}`,
    address: opts.address,
    port,
    user: 'root',
    privateKeyPath: clientKeyPath,
    hostKeyFingerprint: fingerprint,
    connectTimeoutMs: 10_000,
  };
  return {
    target,
    fingerprint,
    hostPublicKey,
    address: opts.address,
    port,
    dir,
    clientKeyPath,
    log: () => log,
    acceptedLogins: () => (log.match(/Accepted publickey for /g) ?? []).length,
    stop,
  };
}

export interface PlanHost {
  name: string;
  address: string;
  /** per-host ssh overrides (port, fingerprint, ...) */
  ssh?: Record<string, unknown>;
}

/**
 * A validated plan around the given hosts (3 old + 3 new), for activity tests.
 * `extra` is merged over the plan document before validation.
 */
export function testPlanDoc(opts: {
  oldMasters: PlanHost[];
  newMasters: PlanHost[];
  defaultsSsh?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const host = (h: PlanHost) => ({
    name: h.name,
    address: h.address,
    ...(h.ssh ? { ssh: h.ssh } : {}),
    etcd: { name: h.name, clientURL: `http://${h.address}:2379`, peerURL: `http://${h.address}:2380` },
  });
  const svc = (unit: string) => ({ type: 'commands', start: `echo start ${unit}`, stop: `echo stop ${unit}`, status: 'true' });
  return {
    apiVersion: 'cpmigrate/v1',
    kind: 'MigrationPlan',
    cluster: 'test-lab',
    kubeconfig: '/tmp/cpm-test-admin.conf',
    defaults: { ssh: { user: 'root', ...(opts.defaultsSsh ?? {}) } },
    oldMasters: opts.oldMasters.map(host),
    newMasters: opts.newMasters.map(host),
    etcd: { snapshotPath: '/tmp/cpm-test-snapshot.db', service: svc('etcd') },
    apiserver: { service: svc('apiserver') },
    controllerManager: { service: svc('controller-manager') },
    scheduler: { service: svc('scheduler') },
    loadBalancer: { vip: '127.0.2.20', service: svc('nginx-lb') },
    keepalived: { interface: 'lo', virtualRouterId: 51, service: svc('keepalived') },
    ...(opts.extra ?? {}),
  };
}
