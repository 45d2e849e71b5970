/**
 * The shapes of control plane the lab migrates end to end (issue 13): each one
 * lab migration, unattended, with the safety monitor and the probe, judged by
 * the same assessment as the fault matrix (after-state checks for that shape,
 * 50/50 objects, quorum margin ≥ 0, never two VIP holders, every membership
 * change completed once, no secret in history) plus zero failed probe
 * requests. `npm run e2e:shapes` runs them all and prints the time of each;
 * `npm test` runs CI_SHAPES (test/e2e-shapes.test.ts).
 */
import type { Scenario } from './scenarios';

export const SHAPE_SCENARIOS: Scenario[] = [
  {
    name: 'shape-3-3-rolling',
    what: '3 → 3 with strategy rolling: one in, one out (peak 4 members)',
    shape: { old: 3, new: 3, shared: [], strategy: 'rolling' },
  },
  {
    name: 'shape-replace-failed',
    what: 'replace one failed master: oldmaster-3 powered off before the start, replaced by master-1; oldmaster-1 and -2 kept',
    shape: { old: 3, new: 3, shared: ['oldmaster-1', 'oldmaster-2'], failed: 'oldmaster-3' },
  },
  { name: 'shape-1-3', what: '1 → 3: grow a single-master cluster to three', shape: { old: 1, new: 3, shared: [] } },
  { name: 'shape-5-3', what: '5 → 3 (acceptToleranceDrop: the final cluster tolerates 1 failure, the start 2)', shape: { old: 5, new: 3, shared: [] } },
  { name: 'shape-3-5', what: '3 → 5', shape: { old: 3, new: 5, shared: [] } },
];

/** What `npm test` runs beside the fault matrix's subset: rolling 3 → 3 and the failed-master replacement. */
export const CI_SHAPES = ['shape-3-3-rolling', 'shape-replace-failed'];

export function shapeScenario(name: string): Scenario {
  const s = SHAPE_SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no shape scenario ${name} (${SHAPE_SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
