/**
 * The etcd version a new member WILL run, read from its host before it is
 * added: the version gate must see the joining binary too (an etcd 3.4 leader
 * panics — "not implemented" — the moment an etcd 3.6 member connects, so a
 * check after the start is too late). Read-only.
 *
 * Where the binary is found, by service type:
 *   systemd    ExecStart's path (`systemctl show -p ExecStart`)
 *   staticPod  the image tag of the manifest's etcd container (registry.k8s.io/etcd:3.5.21-0)
 *   commands   `etcd` on PATH, the start command's directory first (start scripts live beside the binary)
 */
import { parse } from 'yaml';
import type { HostOps } from '../lib/hostops';
import { shq } from '../lib/shell';
import { sshTargetOf } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';

export type BinaryVersion = { version: string; how: string } | { unknown: string };

/** "etcd Version: 3.5.21" (etcd --version) → "3.5.21". */
export function versionOfOutput(out: string): string | undefined {
  return /etcd Version:\s*v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
}

/** registry.k8s.io/etcd:3.5.21-0 → "3.5.21". */
export function versionOfImage(image: string): string | undefined {
  return /etcd:v?(\d+\.\d+\.\d+)/.exec(image)?.[1];
}

function locateScript(plan: Plan): string | undefined {
  const s = plan.etcd.service;
  if (s.type === 'systemd') return `systemctl show -p ExecStart --value ${shq(s.unit)} 2>/dev/null | sed -n 's/.*path=\\([^ ;]*\\).*/\\1/p' | head -n1`;
  if (s.type === 'commands') {
    const first = s.start.trim().split(/\s+/)[0] ?? '';
    const dir = first.startsWith('/') ? first.replace(/\/[^/]*$/, '') : '';
    return `${dir ? `PATH=${shq(dir)}:"$PATH" ` : ''}command -v etcd`;
  }
  return undefined;
}

export async function joiningBinaryVersion(ops: HostOps, plan: Plan, host: Host, timeoutMs: number): Promise<BinaryVersion> {
  const t = sshTargetOf(plan, host);
  const s = plan.etcd.service;
  if (s.type === 'staticPod') {
    const text = (await ops.readFile(t, s.manifest))?.toString('utf8');
    if (text === undefined) return { unknown: `${host.name}: no ${s.manifest} yet` };
    const pod = parse(text) as { spec?: { containers?: Array<{ name?: string; image?: string }> } } | undefined;
    const c = pod?.spec?.containers?.find((x) => x.name === 'etcd') ?? pod?.spec?.containers?.[0];
    const v = c?.image ? versionOfImage(c.image) : undefined;
    return v ? { version: v, how: `${host.name}: image ${c?.image ?? ''}` } : { unknown: `${host.name}: no etcd image tag with a version in ${s.manifest}` };
  }
  const locate = locateScript(plan);
  const r = await ops.run(t, `b=$(${locate}); [ -n "$b" ] || { echo "no etcd binary found" >&2; exit 3; }; echo "$b"; "$b" --version`, {
    allowFailure: true,
    timeoutMs,
  });
  const [path = '', ...rest] = r.stdout.split('\n');
  const v = r.exitCode === 0 ? versionOfOutput(rest.join('\n')) : undefined;
  return v
    ? { version: v, how: `${host.name}: ${path} --version` }
    : { unknown: `${host.name}: ${r.stderr.trim().split('\n').at(-1) ?? ''}${r.exitCode ? ` (exit ${r.exitCode})` : ''}`.trim() };
}
