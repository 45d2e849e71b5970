/** configureApiserver, configureApiserverLb, configureControllerManagerScheduler: a new master's component configs, from an old master's. */
import { PlanMismatchError } from '../../errors';
import { failpoint } from '../../lib/failpoint';
import { activityLog, beat } from '../../lib/heartbeat';
import { masterOf, sshTargetOf } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import type { ComponentName, StepOutcome } from '../types';
import { componentLabel, type ControlPlaneDeps } from './common';
import { ensureReferencedFiles, push, readFromOldMaster, renderApiserverConfig, renderNginxConfig, restartIfRunning, type Pushed } from './configs';
import { replaceAddress } from '../rewrite';

export function configureActivities(deps: ControlPlaneDeps) {
  async function configureApiserver(plan: Plan, hostName: string, etcdServers: string[]): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    if (!etcdServers.length) throw new PlanMismatchError(`configureApiserver(${hostName}): empty etcd server list`);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const file = plan.paths.apiserverConfig;
    const src = await readFromOldMaster(plan, ops, file);
    const { text, notes } = renderApiserverConfig(plan, src, host, etcdServers);
    const copied = await ensureReferencedFiles(plan, ops, src, t, host, text, file);
    failpoint('config.apiserver.after-referenced-files', hostName);
    const p = await push(ops, t, file, text, src);
    failpoint('config.apiserver.after-write', hostName);
    const restarted = await restartIfRunning(plan, ops, t, host, 'apiserver');
    activityLog().info('apiserver configured', { host: hostName, source: src.host.name, changed: p.changed, restarted });
    return {
      summary: `${file} on ${hostName} ${p.changed ? 'written' : 'already up to date'} (from ${src.host.name}; --etcd-servers=${etcdServers.join(',')}${restarted ? '; restarted' : ''})`,
      changed: p.changed,
      details: { source: src.host.name, ...p, notes, copied, restarted },
    };
  }

  async function configureApiserverLb(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const file = plan.paths.nginxConfig;
    const src = await readFromOldMaster(plan, ops, file);
    const { text, servers } = renderNginxConfig(plan, src, host);
    const p = await push(ops, t, file, text, src);
    failpoint('config.loadBalancer.after-write', hostName);
    const restarted = await restartIfRunning(plan, ops, t, host, 'loadBalancer');
    return {
      summary: `${file} on ${hostName} ${p.changed ? 'written' : 'already up to date'}: upstream ${plan.loadBalancer.upstreamName} = ${servers.join(', ')}${restarted ? '; restarted' : ''}`,
      changed: p.changed,
      details: { source: src.host.name, ...p, upstreams: servers, restarted },
    };
  }

  async function configureControllerManagerScheduler(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const files: Array<{ path: string; component: 'controllerManager' | 'scheduler'; kubeconfig: boolean }> = [
      { path: plan.paths.controllerManagerKubeconfig, component: 'controllerManager', kubeconfig: true },
      { path: plan.paths.schedulerKubeconfig, component: 'scheduler', kubeconfig: true },
      { path: plan.paths.controllerManagerConfig, component: 'controllerManager', kubeconfig: false },
      { path: plan.paths.schedulerConfig, component: 'scheduler', kubeconfig: false },
    ];
    const pushed: Array<Pushed & { source: string; component: ComponentName }> = [];
    for (const f of files) {
      const src = await readFromOldMaster(plan, ops, f.path);
      const text = replaceAddress(src.text, src.host.address, host.address).text;
      const copied = !f.kubeconfig ? await ensureReferencedFiles(plan, ops, src, t, host, text, f.path) : [];
      for (const c of copied) pushed.push({ path: c, changed: true, source: src.host.name, component: f.component });
      pushed.push({ ...(await push(ops, t, f.path, text, src)), source: src.host.name, component: f.component });
      failpoint(`config.${f.component}.after-write`, hostName);
      beat({ pushed: f.path });
    }
    const restarted: string[] = [];
    for (const c of ['controllerManager', 'scheduler'] as const) {
      if (await restartIfRunning(plan, ops, t, host, c)) restarted.push(componentLabel(c));
    }
    const changed = pushed.some((p) => p.changed);
    return {
      summary: `${pushed.filter((p) => p.changed).length} of ${pushed.length} files written on ${hostName} (controller-manager and scheduler configs and kubeconfigs from ${pushed[0]?.source ?? '?'})${restarted.length ? `; restarted ${restarted.join(', ')}` : ''}`,
      changed,
      details: { files: pushed, restarted },
    };
  }

  return { configureApiserver, configureApiserverLb, configureControllerManagerScheduler };
}
