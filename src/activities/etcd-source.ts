/**
 * Reads an etcd member's LIVE configuration from its host: the command line
 * and ETCD_* environment of the running process (systemd: its MainPID; static
 * pod: the manifest's command, args and env) and the config file it names
 * (--config-file / ETCD_CONFIG_FILE), else the plan's paths.etcdConfig.
 * Read-only.
 */
import { parse } from 'yaml';
import { PlanMismatchError } from '../errors';
import { etcdEnvOf, etcdFlagsToConfig } from '../lib/etcd-flags';
import type { EtcdConfigSource } from '../lib/etcd-member-config';
import { statPaths } from '../lib/file-meta';
import type { HostOps } from '../lib/hostops';
import { shq } from '../lib/shell';
import { sshTargetOf } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';

const ENV_MARK = '--cpmigrate-environ--';

interface LiveArgs {
  argv: string[];
  env: Record<string, string>;
  how: string;
}

/** The process's argv and environment, as far as the service type lets us see them. */
async function liveArgs(ops: HostOps, plan: Plan, host: Host, timeoutMs: number): Promise<LiveArgs | undefined> {
  const svc = plan.etcd.service;
  const t = sshTargetOf(plan, host);
  if (svc.type === 'systemd') {
    const r = await ops.run(
      t,
      `pid=$(systemctl show -p MainPID --value ${shq(svc.unit)} 2>/dev/null); if [ -n "$pid" ] && [ "$pid" != 0 ] && [ -r /proc/$pid/cmdline ]; then tr '\\0' '\\n' < /proc/$pid/cmdline; echo ${ENV_MARK}; tr '\\0' '\\n' < /proc/$pid/environ; fi`,
      { allowFailure: true, timeoutMs },
    );
    if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
    const [cmd = '', env = ''] = r.stdout.split(`${ENV_MARK}\n`);
    return { argv: cmd.split('\n').filter(Boolean), env: etcdEnvOf(env.split('\n')), how: `the command line of ${svc.unit}'s main process` };
  }
  if (svc.type === 'staticPod') {
    const buf = await ops.readFile(t, svc.manifest);
    if (!buf) return undefined;
    const pod = parse(buf.toString('utf8')) as {
      spec?: { containers?: Array<{ name?: string; command?: string[]; args?: string[]; env?: Array<{ name?: string; value?: string }> }> };
    };
    const cs = pod?.spec?.containers ?? [];
    const c = cs.find((x) => x.name === 'etcd') ?? cs[0];
    if (!c) return undefined;
    const env = etcdEnvOf((c.env ?? []).filter((e) => e.name && e.value !== undefined).map((e) => `${e.name}=${e.value}`));
    return { argv: [...(c.command ?? []), ...(c.args ?? [])], env, how: `the command of ${svc.manifest}` };
  }
  return undefined;
}

/** The live config of `host`'s member; undefined when the host has neither a readable process nor a config file. */
export async function readEtcdSource(ops: HostOps, plan: Plan, host: Host, timeoutMs: number): Promise<EtcdConfigSource | undefined> {
  const t = sshTargetOf(plan, host);
  const live = await liveArgs(ops, plan, host, timeoutMs).catch(() => undefined);
  const parsed = live ? etcdFlagsToConfig(live.argv, live.env) : undefined;
  const file = parsed?.configFile ?? plan.paths.etcdConfig;
  const hostRef = { name: host.etcd.name, address: host.address };
  if (parsed && !parsed.configFile && Object.keys(parsed.config).length > 0) {
    return { host: hostRef, origin: `${host.name}: ${live?.how ?? 'flags'}`, flags: parsed.config };
  }
  const text = (await ops.readFile(t, file))?.toString('utf8');
  if (text === undefined) return undefined;
  const meta = (await statPaths(ops, t, [file])).get(file);
  return { host: hostRef, origin: `${host.name}:${file}`, fileText: text, ...(meta ? { meta } : {}) };
}

/** The first old master (in plan order, of those in `candidates`) whose live config can be read. */
export async function readOldEtcdSource(ops: HostOps, plan: Plan, candidates: readonly Host[], timeoutMs: number): Promise<EtcdConfigSource> {
  const why: string[] = [];
  for (const h of candidates) {
    try {
      const s = await readEtcdSource(ops, plan, h, timeoutMs);
      if (s) return s;
      why.push(`${h.name}: no etcd process to read and no ${plan.paths.etcdConfig}`);
    } catch (e) {
      why.push(`${h.name}: ${(e as Error).message}`);
    }
  }
  throw new PlanMismatchError(
    `cannot read the live etcd config of any old member (${why.join('; ') || 'no old member is in the member list'}); check paths.etcdConfig and etcd.service`,
  );
}
