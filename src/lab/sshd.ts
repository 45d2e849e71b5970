/**
 * One sshd per lab host, started inside the host's network namespace with its
 * own host key, hostname (UTS namespace) and mount namespace (per-host /etc and
 * /var/lib/etcd). Every command the lab or the tool runs "on a host" runs in the
 * namespaces of that sshd: over SSH, or with nsenter (inHost).
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { tcpAnswers } from '../lib/net';
import { dirname, join } from 'node:path';
import { ETCD_DATA_DIR } from './hostfs';
import { HOSTS, paths, type LabHost } from './layout';
import { livePid, must, run, waitFor, type ExecResult } from './exec';

const sshDir = (h: LabHost) => join(paths.hostDir(h.name), 'ssh');
const sshdPidFile = (h: LabHost) => join(paths.hostDir(h.name), 'run', 'sshd.pid');

export async function ensureClientKey(): Promise<void> {
  if (existsSync(paths.sshKey)) return;
  await mkdir(dirname(paths.sshKey), { recursive: true, mode: 0o700 });
  await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'cpmigrate-lab', '-f', paths.sshKey]);
}

function sshdConfig(h: LabHost): string {
  const d = sshDir(h);
  return [
    `# sshd of lab host ${h.name}`,
    `ListenAddress ${h.address}:22`,
    `HostKey ${d}/ssh_host_ed25519_key`,
    `PidFile ${sshdPidFile(h)}`,
    `AuthorizedKeysFile ${d}/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'MaxStartups 200',
    'MaxSessions 100',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

async function ensureHostKey(h: LabHost): Promise<void> {
  const d = sshDir(h);
  await mkdir(d, { recursive: true, mode: 0o700 });
  if (!existsSync(`${d}/ssh_host_ed25519_key`)) {
    await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `root@${h.name}`, '-f', `${d}/ssh_host_ed25519_key`]);
  }
  await copyFile(`${paths.sshKey}.pub`, `${d}/authorized_keys`);
  await writeFile(`${d}/sshd_config`, sshdConfig(h));
}

/** OpenSSH SHA256 fingerprint of the host's key, as pinned in the plan. */
export async function hostKeyFingerprint(h: LabHost): Promise<string> {
  const out = await must(['ssh-keygen', '-l', '-E', 'sha256', '-f', `${sshDir(h)}/ssh_host_ed25519_key.pub`]);
  const fp = out.split(' ')[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`cannot read the host key fingerprint of ${h.name}: ${out}`);
  return fp;
}

export function sshdPid(h: LabHost): number | undefined {
  return livePid(sshdPidFile(h));
}

export async function startSshd(h: LabHost): Promise<void> {
  if (sshdPid(h)) return;
  await mkdir('/run/sshd', { recursive: true });
  const log = openSync(join(paths.hostDir(h.name), 'log', 'sshd.log'), 'a');
  const script = [
    `hostname ${h.name}`,
    `mount --bind ${join(paths.hostDir(h.name), 'etcd-data')} ${ETCD_DATA_DIR}`,
    `exec /usr/sbin/sshd -D -e -f ${sshDir(h)}/sshd_config`,
  ].join(' && ');
  // detached = setsid: killing the caller's process group does not kill the host
  const child = spawn('ip', ['netns', 'exec', h.name, 'unshare', '--uts', 'sh', '-c', script], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  closeSync(log);
  await waitFor(`sshd on ${h.name} (${h.address}:22); see ${join(paths.hostDir(h.name), 'log', 'sshd.log')}`, 10_000, async () =>
    sshdPid(h) && (await tcpAnswers(h.address, 22, 500)) ? true : undefined,
  );
}

export async function sshdUp(): Promise<void> {
  await ensureClientKey();
  for (const h of HOSTS) await ensureHostKey(h);
  await Promise.all(HOSTS.map(startSshd));
}

export async function sshdDown(): Promise<void> {
  for (const h of HOSTS) {
    const pid = sshdPid(h);
    if (pid) process.kill(pid, 'SIGTERM');
  }
}

/**
 * Runs a shell command in the namespaces of the host's sshd (network, mount,
 * UTS): exactly what an SSH session on that host sees. For the lab's own use.
 */
export async function inHost(h: LabHost, script: string, timeoutMs = 30_000): Promise<ExecResult> {
  const pid = sshdPid(h);
  if (!pid) throw new Error(`sshd of ${h.name} is not running; run \`npm run lab -- up\``);
  return run(['nsenter', '-t', String(pid), '-n', '-m', '-u', '--', 'sh', '-c', script], { timeoutMs });
}

export async function mustInHost(h: LabHost, script: string, timeoutMs = 30_000): Promise<string> {
  const r = await inHost(h, script, timeoutMs);
  if (r.code !== 0) throw new Error(`${h.name}: \`${script}\` exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-800)}`);
  return r.stdout;
}
