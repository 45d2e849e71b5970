/** stepBatches (src/plan/batches.ts): which steps run at the same time; plan show says so. Pure. */
import { describe, expect, it } from 'vitest';
import { stepBatches } from '../src/plan/batches';
import { planSchema, type Plan } from '../src/plan/schema';
import { migrationSteps } from '../src/plan/steps';
import { renderPlanShow } from '../src/cli/plan-show';
import { replaceFailedInput, shapedInput } from './support/history-variants';
import { testPlan } from './support/plans';

const keys = (batches: ReturnType<typeof stepBatches>) => batches.map((b) => b.map((s) => s.key));
const together = (plan: Plan, n: number) => keys(stepBatches(migrationSteps(plan), n)).filter((b) => b.length > 1);

describe('stepBatches', () => {
  it('parallelism 1: one step per batch, in plan order', () => {
    const steps = migrationSteps(testPlan());
    expect(stepBatches(steps, 1)).toEqual(steps.map((s) => [s]));
  });

  it('parallelism 3 on the runbook: the 4 traffic-free phases of the 3 new masters, nothing else', () => {
    const plan = testPlan();
    const steps = migrationSteps(plan);
    const batches = stepBatches(steps, 3);
    expect(batches.flat()).toEqual(steps);
    const hosts = ['master-1', 'master-2', 'master-3'];
    expect(together(plan, 3)).toEqual(['certificates', 'apiserver', 'apiserver-lb', 'controller-manager-scheduler'].map((p) => hosts.map((h) => `${p}/${h}`)));
    // etcd joins, the VIP switch, decommission, etcd-config, checkpoints: alone
    for (const b of keys(batches).filter((x) => x.length === 1))
      expect(b[0]).not.toMatch(/^(certificates|apiserver|apiserver-lb|controller-manager-scheduler)\//);
  });

  it('parallelism 2 cuts a phase of 3 into 2 + 1; 7 is no more than the hosts', () => {
    const plan = testPlan();
    expect(together(plan, 2)).toEqual(
      ['certificates', 'apiserver', 'apiserver-lb', 'controller-manager-scheduler'].map((p) => [`${p}/master-1`, `${p}/master-2`]),
    );
    const alone = keys(stepBatches(migrationSteps(plan), 2))
      .filter((b) => b.length === 1)
      .flat();
    for (const p of ['certificates', 'apiserver', 'apiserver-lb', 'controller-manager-scheduler']) expect(alone).toContain(`${p}/master-3`);
    expect(together(plan, 7)).toEqual(together(plan, 3));
  });

  it('other shapes: one added master has nothing to batch; rolling keeps its joins and leaves alone', () => {
    expect(together(planSchema.parse(replaceFailedInput()), 3)).toEqual([]);
    const rolling = planSchema.parse({ ...shapedInput(3, 3), strategy: 'rolling' });
    const batches = together(rolling, 3);
    expect(batches.flat().every((k) => /^(certificates|apiserver|apiserver-lb|controller-manager-scheduler)\//.test(k))).toBe(true);
    expect(batches).toHaveLength(4);
  });

  it('plan show says which steps run together only when parallelism > 1', () => {
    const plan = testPlan();
    expect(renderPlanShow(plan, migrationSteps(plan))).not.toContain('same time');
    const par = { ...plan, parallelism: 3 };
    const shown = renderPlanShow(par, migrationSteps(par));
    expect(shown).toContain('parallelism 3');
    expect(shown.match(/⇉ steps \d+, \d+, \d+ run at the same time/g)).toHaveLength(4);
  });

  it('the plan schema takes 1 to 7, rejects 0 and 8', () => {
    const base = testPlan();
    expect(planSchema.parse({ ...base, parallelism: 3 }).parallelism).toBe(3);
    expect(planSchema.parse(base).parallelism).toBeUndefined();
    for (const bad of [0, 8, 2.5]) expect(planSchema.safeParse({ ...base, parallelism: bad }).success, String(bad)).toBe(false);
  });
});
