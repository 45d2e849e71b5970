/**
 * Per-host filesystem: /etc/netns/NAME/{kubernetes,etcd,nginx,keepalived,cpm-lab}
 * (bind-mounted over /etc by `ip netns exec`, so every SSH session on that host
 * sees its own /etc), a per-host fstab, and a per-host state dir for pid files,
 * logs and the etcd data dir (bind-mounted over /var/lib/etcd in the host's
 * mount namespace by sshd.ts).
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ETC_DIRS, HOSTS, paths, type LabHost } from './layout';

export const ETCD_DATA_DIR = '/var/lib/etcd';

/** The root-filesystem targets the per-host entries are mounted over; created if missing. */
async function ensureRootTargets(): Promise<void> {
  const created: string[] = [];
  for (const d of [...ETC_DIRS.map((e) => `/etc/${e}`), ETCD_DATA_DIR]) {
    if (!existsSync(d)) {
      await mkdir(d, { recursive: true });
      created.push(d);
    }
  }
  if (!existsSync('/etc/fstab')) {
    await writeFile('/etc/fstab', '');
    created.push('/etc/fstab');
  }
  if (created.length) await appendFile(paths.createdTargets, created.join('\n') + '\n');
}

export function hostEnv(h: LabHost, kubeBin: string): string {
  return [
    `# cpm-lab host identity (read by cpm-svc)`,
    `HOST=${h.name}`,
    `ADDRESS=${h.address}`,
    `STATE=${paths.hostDir(h.name)}`,
    `KUBE_BIN=${kubeBin}`,
    '',
  ].join('\n');
}

export async function hostfsUp(kubeBin: string): Promise<void> {
  await mkdir(paths.state, { recursive: true });
  await ensureRootTargets();
  for (const h of HOSTS) {
    const etc = paths.etcOf(h.name);
    for (const e of ETC_DIRS) await mkdir(join(etc, e), { recursive: true });
    await mkdir(join(etc, 'kubernetes', 'pki'), { recursive: true });
    await writeFile(join(etc, 'cpm-lab', 'host.env'), hostEnv(h, kubeBin));
    if (!existsSync(join(etc, 'fstab'))) {
      await writeFile(join(etc, 'fstab'), `# /etc/fstab of lab host ${h.name}\ntmpfs /tmp tmpfs defaults 0 0\n`);
    }
    for (const d of ['run', 'log', 'etcd-data', 'nginx', 'ssh']) await mkdir(join(paths.hostDir(h.name), d), { recursive: true });
  }
}

export async function hostfsDown(): Promise<void> {
  for (const h of HOSTS) await rm(paths.etcOf(h.name), { recursive: true, force: true });
  try {
    await rmdir('/etc/netns');
  } catch {
    // not empty (someone else's namespaces) or already gone
  }
  let created: string[] = [];
  try {
    created = (await readFile(paths.createdTargets, 'utf8')).split('\n').filter(Boolean);
  } catch {
    // nothing recorded
  }
  for (const d of created.reverse()) {
    try {
      if (d === '/etc/fstab') continue; // keep: harmless and expected on a Debian system
      await rmdir(d);
    } catch {
      // not empty: someone else uses it now
    }
  }
}
