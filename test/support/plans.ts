/** Plans for tests: the shipped example, with test-friendly timeouts and checkpoints. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { planSchema, type Plan, type PlanInput, type GateId } from '../../src/plan/schema';

export const EXAMPLE_PLAN = path.join(__dirname, '..', '..', 'examples', 'plan.yaml');

export function examplePlanInput(): PlanInput {
  return parse(readFileSync(EXAMPLE_PLAN, 'utf8')) as PlanInput;
}

export function testPlan(opts: { cluster?: string; gates?: GateId[]; remindAfter?: string; heartbeat?: string } = {}): Plan {
  const input = examplePlanInput();
  const gates = new Set(opts.gates ?? []);
  const cp = (g: GateId) => ({ enabled: gates.has(g), remindAfter: opts.remindAfter ?? '30m' });
  return planSchema.parse({
    ...input,
    cluster: opts.cluster ?? input.cluster,
    checkpoints: { 'preflight-ack': cp('preflight-ack'), 'switch-traffic': cp('switch-traffic'), decommission: cp('decommission') },
    timeouts: { quick: '20s', long: '2m', heartbeat: opts.heartbeat ?? '10s', maxAttempts: 3 },
    nodes: { ...input.nodes, drainTimeout: '1m' },
  });
}

let n = 0;
/** A unique cluster name per test so workflow ids never collide. */
export function uniqueCluster(prefix: string): string {
  n += 1;
  return `${prefix}-${process.pid}-${n}-${Date.now().toString(36)}`;
}
