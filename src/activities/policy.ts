/**
 * The worker policy (src/lib/policy.ts) applied to a whole plan, before every
 * activity: the cluster, every host it would SSH to, every etcd endpoint, and
 * arbitrary commands (`commands` services, etcd.prepareDataDir). The SSH and
 * kube layers check again right before they connect.
 */
import { PolicyViolationError } from '../errors';
import { activePolicy, checkCluster, checkEtcdEndpoint, checkSshTarget, type WorkerPolicy } from '../lib/policy';
import { sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';

export function checkPlanAgainstPolicy(p: WorkerPolicy, plan: Plan): void {
  checkCluster(p, plan.cluster);
  for (const h of [...plan.oldMasters, ...plan.newMasters, ...plan.workerNodes]) checkSshTarget(p, sshTargetOf(plan, h));
  for (const h of [...plan.oldMasters, ...plan.newMasters]) checkEtcdEndpoint(p, h.etcd.clientURL);
  if (!p.allowCommandServices) {
    const components = ['etcd', 'apiserver', 'controllerManager', 'scheduler', 'loadBalancer', 'keepalived'] as const;
    const withCommands = components.filter((c) => plan[c].service.type === 'commands');
    if (withCommands.length) {
      throw new PolicyViolationError(
        'allowCommandServices',
        `worker policy (allowCommandServices): ${withCommands.join(', ')} use \`commands\` services (arbitrary shell on the masters), which this worker does not run`,
      );
    }
    if (plan.etcd.prepareDataDir.length) {
      throw new PolicyViolationError(
        'allowCommandServices',
        'worker policy (allowCommandServices): etcd.prepareDataDir runs arbitrary commands on the new masters, which this worker does not run',
      );
    }
  }
}

/** Wrap every activity (each takes the plan first) so the plan is checked against the active policy first. */
export function withPolicyGuard<T extends object>(activities: T): T {
  const out = { ...activities } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') continue;
    out[name] = async (plan: Plan, ...rest: unknown[]) => {
      const p = activePolicy();
      if (p) checkPlanAgainstPolicy(p, plan);
      return (fn as (...a: unknown[]) => Promise<unknown>)(plan, ...rest);
    };
  }
  return out as T;
}
