/** Pure lookups over a validated plan. Safe in workflow code (no I/O). */
import { durationMs } from './duration';
import type { Host, Plan, SshAccess } from './schema';

export type Side = 'old' | 'new';

export function allMasters(plan: Plan): Array<Host & { side: Side }> {
  return [
    ...plan.oldMasters.map((h) => ({ ...h, side: 'old' as const })),
    ...plan.newMasters.map((h) => ({ ...h, side: 'new' as const })),
  ];
}

export function findHost(plan: Plan, name: string): Host & { side: Side } {
  const h = allMasters(plan).find((x) => x.name === name);
  if (!h) throw new Error(`host "${name}" is not in the plan (old: ${plan.oldMasters.map((x) => x.name).join(', ')}; new: ${plan.newMasters.map((x) => x.name).join(', ')})`);
  return h;
}

/** Everything needed to open an SSH session to a host; secrets are paths. */
export interface SshTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKeyFingerprint?: string;
  knownHostsPath?: string;
  connectTimeoutMs: number;
}

export function sshTargetOf(plan: Plan, host: Pick<Host, 'name' | 'address'> & { ssh?: SshAccess }): SshTarget {
  const s = { ...plan.defaults.ssh, ...host.ssh };
  return {
    name: host.name,
    address: host.address,
    port: s.port ?? 22,
    user: s.user ?? 'root',
    privateKeyPath: s.privateKeyPath ?? '~/.ssh/id_ed25519',
    hostKeyFingerprint: s.hostKeyFingerprint,
    knownHostsPath: s.knownHostsPath,
    connectTimeoutMs: s.connectTimeout ? durationMs(s.connectTimeout) : 10_000,
  };
}

/** The host part of a URL, or '' when it is not a URL. */
export function urlHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

export function apiserverURLOf(plan: Plan, host: Host): string {
  return host.apiserverURL ?? `https://${host.address}:${plan.apiserver.securePort}`;
}
