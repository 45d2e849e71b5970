/**
 * Flag parity after a control-plane component starts on a new master: the new
 * process's effective flags (its /proc command line) against an old master's,
 * every difference listed; one that is not per-host is a FlagParityError.
 * Read-only.
 *
 * The process is found the same way for every service type: the processes
 * whose argv[0] is the component's binary, in the network namespace of the
 * SSH session (a static pod runs with hostNetwork, a systemd unit on the host:
 * both share it). When that is not exactly one process (systemd: its MainPID
 * decides), the component's config file is compared instead, and the summary
 * says so.
 */
import { FlagParityError } from '../errors';
import { compareFlags, describeDifference, flagsOfConfigText, parseArgv, type FlagMap, type ParityResult, type PerHostRule } from '../lib/component-flags';
import type { HostOps } from '../lib/hostops';
import { shq } from '../lib/shell';
import { sshTargetOf } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import type { ComponentName } from './types';

export type ParityComponent = Extract<ComponentName, 'apiserver' | 'controllerManager' | 'scheduler'>;
export const PARITY_COMPONENTS: readonly ParityComponent[] = ['apiserver', 'controllerManager', 'scheduler'];

export const BINARY: Record<ParityComponent, string> = {
  apiserver: 'kube-apiserver',
  controllerManager: 'kube-controller-manager',
  scheduler: 'kube-scheduler',
};

export interface EffectiveFlags {
  flags: FlagMap;
  /** where they were read: "pid 1234's command line" or "/etc/kubernetes/apiserver.env (...)" */
  how: string;
  fromProcess: boolean;
}

const MARK = '@@cpmigrate-pid';

/** The bash script listing the command lines of `binary` processes in this network namespace. Builtins only per process. */
export function processScanScript(binary: string): string {
  const body = [
    'self=$(readlink /proc/$$/ns/net)',
    'for d in /proc/[0-9]*; do',
    '  a0=; IFS= read -r -d "" a0 < "$d/cmdline" 2>/dev/null',
    `  [ "\${a0##*/}" = ${shq(binary)} ] || continue`,
    '  [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$self" ] || continue',
    `  echo "${MARK} \${d#/proc/}"; tr "\\0" "\\n" < "$d/cmdline"; echo`,
    'done',
  ].join('\n');
  return `bash -c ${shq(body)}`;
}

/** pid → argv, from the scan's output. */
export function parseProcessScan(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = new RegExp(`^${MARK} (\\d+)$`).exec(line);
    if (m) out.set(m[1] ?? '', (cur = []));
    else if (cur && line !== '') cur.push(line);
  }
  return out;
}

function configFileOf(plan: Plan, c: ParityComponent): string {
  return c === 'apiserver' ? plan.paths.apiserverConfig : c === 'controllerManager' ? plan.paths.controllerManagerConfig : plan.paths.schedulerConfig;
}

function serviceOfComponent(plan: Plan, c: ParityComponent) {
  return c === 'apiserver' ? plan.apiserver.service : c === 'controllerManager' ? plan.controllerManager.service : plan.scheduler.service;
}

/** The running process's flags; undefined (with why) when not exactly one process is found. */
async function processFlags(ops: HostOps, plan: Plan, host: Host, c: ParityComponent): Promise<EffectiveFlags | string> {
  const t = sshTargetOf(plan, host);
  const r = await ops.run(t, processScanScript(BINARY[c]), { allowFailure: true, timeoutMs: 30_000 });
  if (r.exitCode !== 0) return `cannot list processes (exit ${r.exitCode})`;
  const procs = parseProcessScan(r.stdout);
  const svc = serviceOfComponent(plan, c);
  if (procs.size > 1 && svc.type === 'systemd') {
    const main = (await ops.run(t, `systemctl show -p MainPID --value ${shq(svc.unit)}`, { allowFailure: true, timeoutMs: 30_000 })).stdout.trim();
    const argv = procs.get(main);
    if (argv) return { flags: parseArgv(argv), how: `${host.name}: ${svc.unit}'s main process (pid ${main})`, fromProcess: true };
  }
  if (procs.size !== 1) return procs.size ? `${procs.size} ${BINARY[c]} processes in its network namespace` : `no ${BINARY[c]} process found`;
  const [pid, argv] = [...procs][0] ?? ['', []];
  return { flags: parseArgv(argv), how: `${host.name}: pid ${pid}'s command line`, fromProcess: true };
}

async function fileFlags(ops: HostOps, plan: Plan, host: Host, c: ParityComponent, why: string): Promise<EffectiveFlags | undefined> {
  const file = configFileOf(plan, c);
  const text = (await ops.readFile(sshTargetOf(plan, host), file))?.toString('utf8');
  return text === undefined ? undefined : { flags: flagsOfConfigText(text), how: `${host.name}:${file} (${why})`, fromProcess: false };
}

/** What cpmigrate changes per host in this component's flags, beyond the host's own address and name. */
export function perHostRule(plan: Plan, c: ParityComponent): PerHostRule {
  if (c !== 'apiserver') return {};
  return {
    rewritten: { 'etcd-servers': 'set per host: the new etcd members from the live member list' },
    ...(plan.apiserver.apiserverCount !== undefined ? { added: { 'apiserver-count': String(plan.apiserver.apiserverCount) } } : {}),
  };
}

export interface ParityReport extends ParityResult {
  component: ParityComponent;
  host: string;
  against: string;
  newFrom: string;
  oldFrom: string;
}

/**
 * Compares `host`'s running component with the first old master whose flags
 * can be read (process on both sides, else config file on both). `skipped`
 * when no old master's flags can be read (said in the summary, not a blocker).
 */
export async function componentParity(ops: HostOps, plan: Plan, host: Host, c: ParityComponent): Promise<ParityReport | { skipped: string }> {
  const mine = await processFlags(ops, plan, host, c);
  const why: string[] = [];
  for (const old of plan.oldMasters) {
    const theirs = await processFlags(ops, plan, old, c).catch((e: Error) => e.message);
    let pair: [EffectiveFlags, EffectiveFlags] | undefined;
    if (typeof mine !== 'string' && typeof theirs !== 'string') pair = [theirs, mine];
    else {
      const reason = typeof mine === 'string' ? `${host.name}: ${mine}` : `${old.name}: ${String(theirs)}`;
      const [o, n] = await Promise.all([fileFlags(ops, plan, old, c, reason), fileFlags(ops, plan, host, c, reason)]);
      if (o && n) pair = [o, n];
      else why.push(`${old.name}: ${reason}; and no ${configFileOf(plan, c)}`);
    }
    if (!pair) continue;
    const res = compareFlags(
      pair[0].flags,
      pair[1].flags,
      { name: old.name, address: old.address },
      { name: host.name, address: host.address },
      perHostRule(plan, c),
    );
    return { ...res, component: c, host: host.name, against: old.name, oldFrom: pair[0].how, newFrom: pair[1].how };
  }
  return { skipped: `flag parity of ${BINARY[c]} on ${host.name} not checked: ${why.join('; ') || 'no old master'}` };
}

/** One sentence for the step summary. */
export function describeParity(p: ParityReport): string {
  const per = p.perHost.length ? `; per host: ${p.perHost.map((d) => `--${d.flag}`).join(', ')}` : '';
  return `flag parity with ${p.against}: ${p.compared} flags compared, ${p.blocking.length} non-per-host difference(s)${per}`;
}

/** Throws FlagParityError listing every difference when one is not per-host. */
export function assertParity(p: ParityReport): void {
  if (!p.blocking.length) return;
  const lines = [
    `${BINARY[p.component]} on ${p.host} does not run with ${p.against}'s flags: ${p.blocking.length} difference(s) that are not per-host (nothing was changed by this check):`,
    ...p.blocking.map((d) => `  * ${describeDifference(d)}`),
    ...(p.perHost.length ? ['per-host differences (expected):', ...p.perHost.map((d) => `  - ${describeDifference(d)}`)] : []),
    `compared ${p.newFrom} with ${p.oldFrom}`,
    `fix: make ${p.host}'s config carry the old setting (or change it on the old masters first, on purpose), restart ${BINARY[p.component]} there, then resume`,
  ];
  throw new FlagParityError(lines.join('\n'), p.blocking.map(describeDifference));
}
