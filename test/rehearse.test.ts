/**
 * `cpmigrate rehearse`: a real plan's shape onto the lab (src/rehearse/shape.ts)
 * — host mapping, kept and failed masters, strategy, refusals before any lab
 * is built — and `--from-live`'s read-only etcd tuning (src/rehearse/live.ts).
 */
import { describe, expect, it } from 'vitest';
import { planSchema, type Plan } from '../src/plan/schema';
import { readLiveTuning } from '../src/rehearse/live';
import { rehearsalOf } from '../src/rehearse/shape';
import { FakeHosts } from './support/fake-hosts';
import { examplePlanInput } from './support/plans';

type Master = Plan['oldMasters'][number];
const host = (name: string, n: number, extra: Partial<Master> = {}) => ({
  name,
  address: `10.0.0.${n}`,
  etcd: { name, clientURL: `http://10.0.0.${n}:2379`, peerURL: `http://10.0.0.${n}:2380` },
  ...extra,
});

function planOf(old: ReturnType<typeof host>[], neu: ReturnType<typeof host>[], extra: Record<string, unknown> = {}): Plan {
  return planSchema.parse({ ...examplePlanInput(), oldMasters: old, newMasters: neu, ...extra });
}

describe('rehearsal shape', () => {
  it("replacing a failed master: kept hosts keep their old-side lab name, the failed one is the lab's powered-off host", () => {
    const a = host('cp-a', 1);
    const b = host('cp-b', 2);
    const c = host('cp-c', 3, { state: 'failed' });
    const r = rehearsalOf(planOf([a, b, c], [a, b, host('cp-d', 4)]));
    expect(r.problems).toEqual([]);
    expect(r.shape).toEqual({ old: 3, new: 3, shared: ['oldmaster-1', 'oldmaster-2'], failed: 'oldmaster-3' });
    expect(r.hosts).toEqual([
      { plan: 'cp-a', lab: 'oldmaster-1', role: 'kept' },
      { plan: 'cp-b', lab: 'oldmaster-2', role: 'kept' },
      { plan: 'cp-c', lab: 'oldmaster-3', role: 'failed' },
      { plan: 'cp-d', lab: 'master-1', role: 'new' },
    ]);
    expect(r.projection.steps[0]).toMatchObject({ op: 'remove-failed', host: 'cp-c' });
  });

  it('carries the strategy, and says how the lab differs (services, checkpoints)', () => {
    const old = [1, 2, 3].map((i) => host(`o${i}`, i));
    const neu = [4, 5, 6].map((i) => host(`n${i}`, i));
    const r = rehearsalOf(planOf(old, neu, { strategy: 'rolling' }));
    expect(r.shape).toEqual({ old: 3, new: 3, shared: [], strategy: 'rolling' });
    expect(r.projection.peak).toBe(4);
    expect(r.notes.join('\n')).toMatch(/the plan runs systemd services; the lab .* runs every component as `commands`/);
    expect(r.notes.join('\n')).toMatch(/checkpoints: preflight-ack, switch-traffic, decommission in the plan/);
  });

  it('refuses, before any lab exists, what the workflow would refuse: 5 → 3 without acceptToleranceDrop', () => {
    const old = [1, 2, 3, 4, 5].map((i) => host(`o${i}`, i));
    const neu = [6, 7, 8].map((i) => host(`n${i}`, i));
    const r = rehearsalOf(planOf(old, neu));
    expect(r.problems.join('\n')).toMatch(/^acceptToleranceDrop: /m);
    expect(rehearsalOf(planOf(old, neu, { acceptToleranceDrop: true })).problems).toEqual([]);
  });

  it('refuses two failed masters (the lab powers off one), naming them', () => {
    const r = rehearsalOf(
      planOf(
        [host('a', 1), host('b', 2, { state: 'failed' }), host('c', 3, { state: 'failed' }), host('d', 4), host('e', 5)],
        [host('a', 1), host('d', 4), host('e', 5)],
        { acceptToleranceDrop: true },
      ),
    );
    expect(r.problems.join('\n')).toMatch(/the lab powers off one failed master, the plan marks 2 \(b, c\)/);
  });
});

describe('rehearse --from-live', () => {
  it("reads the old member's etcd file (read-only) and keeps the settings the lab can reproduce", async () => {
    const input = examplePlanInput();
    const plan = planOf(
      [1, 2, 3].map((i) => host(`o${i}`, i)),
      [4, 5, 6].map((i) => host(`n${i}`, i)),
      {
        etcd: { ...input.etcd, service: { type: 'commands', start: 'x', stop: 'x', status: 'x' } },
      },
    );
    const f = new FakeHosts();
    f.host('o1').files.set(
      plan.paths.etcdConfig,
      [
        'name: o1',
        'data-dir: /var/lib/etcd',
        'quota-backend-bytes: 8589934592',
        'election-timeout: 2500',
        'heartbeat-interval: 250',
        'auto-compaction-retention: "8"',
        'listen-client-urls: http://10.0.0.1:2379',
        'experimental-initial-corrupt-check: true',
        '',
      ].join('\n'),
    );
    const live = await readLiveTuning(f, plan);
    expect(live.from).toBe(`o1:${plan.paths.etcdConfig}`);
    expect(live.tuning).toEqual(['auto-compaction-retention: "8"', 'election-timeout: 2500', 'heartbeat-interval: 250', 'quota-backend-bytes: 8589934592']);
    expect(live.notReproduced).toEqual(['experimental-initial-corrupt-check (not among the settings the lab reproduces)']);
    // read-only: nothing pushed, no command but reads
    expect([...f.host('o1').files.keys()]).toEqual([plan.paths.etcdConfig]);
  });
});
