/**
 * Faults the fault matrix injects into lab hosts, by pid and by link: a
 * daemon killed, sshd killed and restarted, a host cut off the network, a
 * host powered off for good, a host rebooted (its daemons killed, then what
 * is enabled at boot started again). Lab only.
 */
import { join } from 'node:path';
import { IFACE, labHost, paths } from './layout';
import { livePid, must } from './exec';
import { sleep } from '../lib/sleep';
import { sshdPid, startSshd } from './sshd';
import { COMPONENTS, bootHost, type LabComponent } from './svc';

function kill(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export const daemonPid = (host: string, comp: LabComponent): number | undefined => livePid(join(paths.hostDir(host), 'run', `${comp}.pid`));

/** SIGKILL one daemon of a host (no cleanup: a crash). */
export function killDaemon(host: string, comp: LabComponent): boolean {
  return kill(daemonPid(host, comp), 'SIGKILL');
}

export async function killSshd(host: string): Promise<void> {
  kill(sshdPid(labHost(host)), 'SIGKILL');
  for (let i = 0; i < 50 && sshdPid(labHost(host)); i++) await sleep(100);
}

export async function restartSshd(host: string): Promise<void> {
  await startSshd(labHost(host));
}

export async function linkDown(host: string): Promise<void> {
  await must(['ip', '-n', host, 'link', 'set', IFACE, 'down']);
}

export async function linkUp(host: string): Promise<void> {
  await must(['ip', '-n', host, 'link', 'set', IFACE, 'up']);
}

/** Pulled the plug: every daemon and sshd SIGKILLed, the link down. It does not come back. */
export async function powerOff(host: string): Promise<void> {
  for (const c of COMPONENTS) killDaemon(host, c);
  await linkDown(host);
  await killSshd(host);
}

/** A crash and reboot: every daemon SIGKILLed, then the host's init starts what is enabled at boot. */
export async function reboot(host: string): Promise<string> {
  for (const c of COMPONENTS) killDaemon(host, c);
  await sleep(500);
  const r = await bootHost(labHost(host));
  return r.stdout.trim();
}
