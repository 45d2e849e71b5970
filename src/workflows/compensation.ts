/**
 * What undoes a completed step, for `abort --rollback` before the point of no
 * return (saga style: compensations run newest first). Steps whose effect is
 * harmless to keep (drained/labelled nodes, copied certificates, the snapshot)
 * have none. After the point of no return (old members removed) there is no
 * rollback: only forward.
 */
import { addedMasters, liveOldMasters } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import type { ActionStep } from '../plan/steps';
import { clientFixesCompensation } from './client-fixes';
import type { Ctx } from './runners';

export interface Compensation {
  step: string;
  what: string;
  run: () => Promise<void>;
}

export function compensationFor(ctx: Ctx, step: ActionStep): Compensation | undefined {
  const { plan, quick, long } = ctx;
  const host = step.host;
  switch (step.phase) {
    case 'client-fixes':
      return ctx.clientFixes?.length ? clientFixesCompensation(ctx, step.key, ctx.clientFixes) : undefined;
    case 'etcd-join':
      if (!host) return undefined;
      return {
        step: step.key,
        what: `remove etcd member of ${host}`,
        run: async () => {
          await long.etcdRemoveMember(plan, host);
        },
      };
    case 'apiserver':
    case 'apiserver-lb':
    case 'controller-manager-scheduler': {
      if (!host) return undefined;
      const components =
        step.phase === 'apiserver'
          ? (['apiserver'] as const)
          : step.phase === 'apiserver-lb'
            ? (['loadBalancer'] as const)
            : (['controllerManager', 'scheduler'] as const);
      return {
        step: step.key,
        what: `stop ${components.join(' and ')} on ${host}`,
        run: async () => {
          for (const c of components) await quick.stopComponent(plan, host, c);
        },
      };
    }
    case 'calico':
      return {
        step: step.key,
        what: 'point calico back at the old etcd members',
        run: async () => {
          await quick.patchCalicoEtcdEndpoints(plan, oldClientURLs(plan));
          for (const r of plan.calico.restart) await long.rolloutRestart(plan, r.kind, r.name, `rollback/${step.key}`);
        },
      };
    case 'vip-failover':
      return {
        step: step.key,
        what: 'move the VIP back to the old masters',
        run: async () => {
          // never hand the VIP to an old master whose LB does not answer; a failed one is never touched,
          // a kept one never stopped its keepalived (starting it is a no-op)
          const olds = plan.keepalived.onOldMasters === false ? [] : liveOldMasters(plan);
          for (const h of olds) await long.waitComponentHealthy(plan, h.name, 'loadBalancer');
          for (const h of olds) await quick.startComponent(plan, h.name, 'keepalived');
          for (const h of addedMasters(plan)) await quick.stopComponent(plan, h.name, 'keepalived');
          if (olds.length) await long.verifyVip(plan, 'old');
        },
      };
    default:
      return undefined;
  }
}

function oldClientURLs(plan: Plan): string[] {
  return liveOldMasters(plan)
    .map((h) => h.etcd.clientURL)
    .sort();
}
