/**
 * Starting, restarting and stopping a component so that what runs on the host
 * matches the config files on the host — decided from the host's state (is it
 * running? which config digest was it started with?), never from whether this
 * attempt of an activity wrote a file. Each side effect is followed by its
 * failpoint.
 */
import { appliedState, isCurrent, withStamp, type AppliedState } from '../lib/applied';
import { failpoint } from '../lib/failpoint';
import type { HostOps } from '../lib/hostops';
import { bootCommand, serviceCommand } from '../lib/services';
import type { SshTarget } from '../plan/hosts';
import type { Host, Plan, Service } from '../plan/schema';
import type { ComponentName } from './types';

export type MasterHost = Host & { side: 'old' | 'new' };
export type ManagedComponent = Exclude<ComponentName, 'etcd'>;

export function serviceOf(plan: Plan, c: ComponentName): Service {
  switch (c) {
    case 'etcd':
      return plan.etcd.service;
    case 'apiserver':
      return plan.apiserver.service;
    case 'controllerManager':
      return plan.controllerManager.service;
    case 'scheduler':
      return plan.scheduler.service;
    case 'loadBalancer':
      return plan.loadBalancer.service;
    case 'keepalived':
      return plan.keepalived.service;
  }
}

/** The files whose content a running component must have been started with. */
export function configFilesOf(plan: Plan, c: ComponentName): string[] {
  const p = plan.paths;
  switch (c) {
    case 'etcd':
      return [p.etcdConfig];
    case 'apiserver':
      return [p.apiserverConfig];
    case 'controllerManager':
      return [p.controllerManagerConfig, p.controllerManagerKubeconfig];
    case 'scheduler':
      return [p.schedulerConfig, p.schedulerKubeconfig];
    case 'loadBalancer':
      return [p.nginxConfig];
    case 'keepalived':
      return [p.keepalivedConfig];
  }
}

export async function isRunning(ops: HostOps, t: SshTarget, service: Service): Promise<boolean> {
  return (await ops.run(t, serviceCommand(service, 'status'), { allowFailure: true, timeoutMs: 30_000 })).exitCode === 0;
}

/**
 * Whether a running component must be restarted to pick up its files. On a new
 * master cpmigrate owns the config: no stamp means "not known to be current".
 * On an old master cpmigrate never wrote the config: only a recorded stamp that
 * differs counts (an old master's own daemons are not restarted for lack of one).
 */
function staleOn(host: MasterHost, s: AppliedState): boolean {
  return host.side === 'new' ? !isCurrent(s) : s.stamp !== undefined && !isCurrent(s);
}

export type Converged = 'started' | 'restarted' | 'already running' | 'not running';

/**
 * A running component whose files changed since it was (re)started is
 * restarted; a stopped one is left stopped (`start` says whether to start it).
 */
export async function converge(plan: Plan, ops: HostOps, t: SshTarget, host: MasterHost, c: ManagedComponent, opts: { start: boolean }): Promise<Converged> {
  const service = serviceOf(plan, c);
  const state = await appliedState(ops, t, configFilesOf(plan, c));
  if (!(await isRunning(ops, t, service))) {
    if (!opts.start) return 'not running';
    // the stamp is written on the host in the same command as the start (lib/applied withStamp)
    await ops.run(t, withStamp(serviceCommand(service, 'start'), state), { timeoutMs: 120_000 });
    failpoint(`start.${c}.after-start`, host.name);
    await enableAtBoot(ops, t, service);
    return 'started';
  }
  if (!staleOn(host, state)) return 'already running';
  await ops.run(t, withStamp(serviceCommand(service, 'restart'), state), { timeoutMs: 120_000 });
  failpoint(`restart.${c}.after-restart`, host.name);
  return 'restarted';
}

/** What cpmigrate starts also starts at boot (a rebooted new master comes back); no-op where the plan gives no enable. */
export async function enableAtBoot(ops: HostOps, t: SshTarget, service: Service): Promise<void> {
  const cmd = bootCommand(service, 'enable');
  if (cmd) await ops.run(t, cmd, { timeoutMs: 60_000 });
}

/** Stop, and fail when it still runs afterwards. */
export async function stopService(ops: HostOps, t: SshTarget, host: MasterHost, plan: Plan, c: ManagedComponent, label: string): Promise<void> {
  const service = serviceOf(plan, c);
  await ops.run(t, serviceCommand(service, 'stop'), { timeoutMs: 120_000 });
  failpoint(`stop.${c}.after-stop`, host.name);
  if (await isRunning(ops, t, service)) {
    throw new Error(`${label} on ${host.name} still runs after \`${serviceCommand(service, 'stop')}\``);
  }
}
