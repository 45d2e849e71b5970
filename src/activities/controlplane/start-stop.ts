/** startComponent, stopComponent: through the plan's service commands; a stop that would take the API or the VIP away is refused. */
import { HostUnreachableError, UnsafeOperationError } from '../../errors';
import { activityLog } from '../../lib/heartbeat';
import type { HostOps } from '../../lib/hostops';
import { presumedDown } from '../../lib/reachability';
import { serviceCommand } from '../../lib/services';
import { masterOf, reachableMasters, sshTargetOf } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import { converge, isRunning, serviceOf, stopService, type MasterHost } from '../component-state';
import type { ComponentName, StepOutcome } from '../types';
import { componentLabel, servicePortsOf, type ControlPlaneDeps } from './common';

export function startStopActivities(deps: ControlPlaneDeps) {
  /** Refuses a stop that would take the API or the VIP away from clients. */
  async function guardStop(plan: Plan, ops: HostOps, host: MasterHost, c: ComponentName): Promise<void> {
    if (c === 'keepalived') {
      const others = reachableMasters(plan).filter((h) => h.name !== host.name);
      const running = await Promise.all(others.map((h) => isRunning(ops, sshTargetOf(plan, h), plan.keepalived.service).catch(() => false)));
      if (!running.some(Boolean)) {
        throw new UnsafeOperationError(
          `refusing to stop keepalived on ${host.name}: no other master runs keepalived, so the VIP ${plan.loadBalancer.vip} would disappear`,
        );
      }
    }
    if (c === 'loadBalancer') {
      // Fail closed: if we cannot list the addresses we cannot know that this host does not hold the VIP.
      const r = await ops.run(sshTargetOf(plan, host), 'ip -4 -o addr show', { allowFailure: true });
      if (r.exitCode !== 0) {
        throw new Error(
          `cannot tell whether ${host.name} holds the VIP ${plan.loadBalancer.vip}: \`ip -4 -o addr show\` exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-300)}` : ''}; not stopping ${componentLabel(c)} (will retry)`,
        );
      }
      const addrs = r.stdout;
      if (new RegExp(`\\s${plan.loadBalancer.vip.replace(/\./g, '\\.')}/`).test(addrs)) {
        throw new UnsafeOperationError(
          `refusing to stop ${componentLabel(c)} on ${host.name}: it holds the VIP ${plan.loadBalancer.vip}, so API clients would lose the API; move the VIP first`,
        );
      }
    }
  }

  async function startComponent(plan: Plan, hostName: string, c: ComponentName): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    if (c === 'etcd') {
      // etcd is started by the join (etcd activities), which own its restarts
      if (await isRunning(ops, t, plan.etcd.service)) return { summary: `etcd on ${hostName} already running`, changed: false };
      await ops.run(t, serviceCommand(plan.etcd.service, 'start'), { timeoutMs: 120_000 });
      return { summary: `etcd on ${hostName} started`, changed: true };
    }
    const how = await converge(plan, ops, t, host, c, { start: true });
    const said = how === 'restarted' ? 'restarted (it ran another config than the one on the host)' : how;
    return { summary: `${componentLabel(c)} on ${hostName} ${said}`, changed: how !== 'already running' };
  }

  async function stopComponent(plan: Plan, hostName: string, c: ComponentName): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const service = serviceOf(plan, c);
    let running: boolean;
    try {
      running = await isRunning(ops, t, service);
    } catch (e) {
      // an old master that died (powered off) must not wedge decommission: nothing runs there to stop
      const down = e instanceof HostUnreachableError && host.side === 'old' ? await presumedDown(ops, t, servicePortsOf(plan, host)) : undefined;
      if (!down) throw e;
      activityLog().warn('old master presumed down: nothing to stop', { host: hostName, component: c, why: down });
      return { summary: `${componentLabel(c)} on ${hostName} not stopped: ${down}; presumed powered off`, changed: false, details: { presumedDown: down } };
    }
    if (!running) return { summary: `${componentLabel(c)} on ${hostName} already stopped`, changed: false };
    await guardStop(plan, ops, host, c);
    if (c === 'etcd') {
      await ops.run(t, serviceCommand(service, 'stop'), { timeoutMs: 120_000 });
    } else {
      await stopService(ops, t, host, plan, c, componentLabel(c));
    }
    return { summary: `${componentLabel(c)} on ${hostName} stopped`, changed: true };
  }

  return { startComponent, stopComponent };
}
