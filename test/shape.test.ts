/**
 * The step planner (src/plan/shape.ts): for every shape up to 7 → 7, both
 * strategies, with kept and failed masters, the projected members, quorum and
 * tolerated failures after every membership change, checked against a
 * separate count; and the refusals (even size, tolerance drop, lost quorum,
 * a failed master kept).
 */
import { describe, expect, it } from 'vitest';
import { projectShape, STRATEGIES, type ShapeInput, type Strategy } from '../src/plan/shape';

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** old = o1..o(N-k) + k1..kk (k kept), failed = the first f old ones; new = k1..kk + n1..n(M-k) */
function shape(n: number, m: number, kept = 0, failed = 0, extra: Partial<ShapeInput> = {}): ShapeInput {
  const keptNames = names('k', kept);
  const old = [...names('o', n - kept), ...keptNames];
  return {
    oldMasters: old.map((name, i) => ({ name, ...(i < failed ? { failed: true } : {}) })),
    newMasters: [...keptNames, ...names('n', m - kept)].map((name) => ({ name })),
    ...extra,
  };
}

/** the oracle: failures tolerated by `voters` members of which `dead` are dead, counted by hand */
function tolerance(voters: number, dead: number): number {
  const quorum = Math.floor(voters / 2) + 1;
  return voters - dead - quorum;
}

const SIZES = [1, 2, 3, 4, 5, 6, 7];

describe('step planner: every shape up to 7 → 7', () => {
  for (const strategy of STRATEGIES) {
    for (const n of SIZES) {
      for (const m of SIZES) {
        it(`${strategy} ${n} → ${m}: members, quorum and tolerance at every step; refusals`, () => {
          for (let kept = 0; kept <= Math.min(n, m); kept++) {
            for (let failed = 0; failed <= n - kept; failed++) {
              const input = shape(n, m, kept, failed, { strategy, allowEvenMembers: true, acceptToleranceDrop: true });
              const p = projectShape(input);
              const oldNames = input.oldMasters.map((h) => h.name);
              const newNames = input.newMasters.map((h) => h.name);
              const failedNames = oldNames.slice(0, failed);
              const keptNames = newNames.slice(0, kept);
              const startTol = tolerance(n, failed);
              expect(p.strategy).toBe(strategy);
              expect(p.start).toEqual({ members: oldNames, voters: n, quorum: Math.floor(n / 2) + 1, tolerates: startTol });
              // one change per step: failed first, then adds and removes; kept hosts never touched
              expect(p.steps.length).toBe(failed + (m - kept) + (n - kept - failed));
              expect(p.steps.slice(0, failed).map((s) => [s.op, s.host])).toEqual(failedNames.map((h) => ['remove-failed', h]));
              expect(p.steps.some((s) => keptNames.includes(s.host))).toBe(false);
              let members = [...oldNames];
              let dead = failed;
              for (const s of p.steps) {
                if (s.op === 'add') members = [...members, s.host];
                else members = members.filter((x) => x !== s.host);
                if (s.op === 'remove-failed') dead -= 1;
                expect(s.members).toEqual(members);
                expect(s.voters).toBe(members.length);
                expect(s.quorum).toBe(Math.floor(members.length / 2) + 1);
                expect(s.tolerates).toBe(tolerance(members.length, dead));
                expect(s.belowStart).toBe(s.tolerates < startTol);
              }
              expect(new Set(p.final.members)).toEqual(new Set(newNames));
              expect(p.final.tolerates).toBe(tolerance(m, 0));
              const sizes = p.steps.map((s) => s.voters);
              const afterFailed = n - failed;
              if (strategy === 'grow-then-shrink') {
                // every add before the first remove: the peak is old (live) + added
                const firstRemove = p.steps.findIndex((s) => s.op === 'remove');
                const lastAdd = p.steps.map((s) => s.op).lastIndexOf('add');
                if (firstRemove >= 0 && lastAdd >= 0) expect(lastAdd).toBeLessThan(firstRemove);
                expect(p.peak).toBe(Math.max(n, afterFailed + (m - kept)));
              } else {
                // never more than one above the larger side
                for (const s of p.steps.filter((x) => x.op !== 'remove-failed')) expect(s.voters).toBeLessThanOrEqual(Math.max(afterFailed, m) + 1);
              }
              expect(p.worstTolerates).toBe(sizes.length ? Math.min(...p.steps.map((s) => s.tolerates)) : startTol);
              // lost quorum at the start: always refused
              if (startTol < 0) expect(p.problems.map((x) => x.message).join('\n')).toMatch(/etcd has lost quorum/);
            }
          }
        });
      }
    }
  }
});

describe('step planner: refusals and warnings', () => {
  it('an even final size is refused unless allowEvenMembers, then a warning names the lost tolerance', () => {
    for (const m of [2, 4, 6]) {
      const refused = projectShape(shape(3, m, 0, 0, { acceptToleranceDrop: true }));
      expect(refused.problems.find((p) => p.path === 'newMasters')?.message).toMatch(
        new RegExp(`final etcd has ${m} members: it tolerates ${tolerance(m, 0)} failure\\(s\\), as ${m - 1} members would`),
      );
      const allowed = projectShape(shape(3, m, 0, 0, { acceptToleranceDrop: true, allowEvenMembers: true }));
      expect(allowed.problems).toEqual([]);
      expect(allowed.warnings.map((w) => w.path)).toContain('allowEvenMembers');
    }
    for (const m of [1, 3, 5, 7]) expect(projectShape(shape(3, m, 0, 0, { acceptToleranceDrop: true })).problems).toEqual([]);
  });

  it('a step below the starting tolerance is refused unless acceptToleranceDrop (5 → 3, 3 → 1)', () => {
    const five = projectShape(shape(5, 3));
    expect(five.start.tolerates).toBe(2);
    expect(five.problems.map((p) => p.path)).toEqual(['acceptToleranceDrop']);
    expect(five.problems[0]?.message).toMatch(/tolerate fewer failures than the starting cluster \(2\): down to 1/);
    expect(projectShape(shape(5, 3, 0, 0, { acceptToleranceDrop: true })).problems).toEqual([]);
    expect(projectShape(shape(3, 1)).problems.map((p) => p.path)).toEqual(['acceptToleranceDrop']);
    // growing never drops below the start
    for (const [n, m] of [
      [1, 3],
      [3, 5],
      [3, 3],
      [5, 7],
      [1, 1],
    ] as const) {
      for (const strategy of STRATEGIES) expect(projectShape(shape(n, m, 0, 0, { strategy })).problems).toEqual([]);
    }
  });

  it('refuses a failed master that is also kept, a lost quorum, and counts outside 1..7', () => {
    const keptFailed = projectShape({
      oldMasters: [{ name: 'a', failed: true }, { name: 'b' }, { name: 'c' }],
      newMasters: [{ name: 'a' }, { name: 'b' }, { name: 'd' }],
    });
    expect(keptFailed.problems.map((p) => p.message).join('\n')).toMatch(/a is marked failed in oldMasters and also listed as a new master/);
    const lost = projectShape(shape(3, 3, 0, 2));
    expect(lost.problems.map((p) => p.message).join('\n')).toMatch(/etcd has lost quorum: 1 of 3 members healthy, quorum needs 2/);
    expect(projectShape(shape(8, 3, 0, 0, { acceptToleranceDrop: true })).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'oldMasters: 8 hosts: a control plane has 1 to 7 masters',
    ]);
    expect(projectShape({ oldMasters: [{ name: 'a' }], newMasters: [] }).problems.map((p) => p.path)).toContain('newMasters');
  });
});

describe('step planner: the shapes SREs run, step by step', () => {
  const seq = (p: ReturnType<typeof projectShape>) => p.steps.map((s) => `${s.op} ${s.host}: ${s.voters}/${s.quorum}/${s.tolerates}`);

  it("3 → 3: the runbook's grow-then-shrink by default, rolling on request", () => {
    const g = projectShape(shape(3, 3));
    expect(g.strategy).toBe('grow-then-shrink');
    expect(g.strategyWhy).toMatch(/runbook/);
    expect(seq(g)).toEqual(['add n1: 4/3/1', 'add n2: 5/3/2', 'add n3: 6/4/2', 'remove o1: 5/3/2', 'remove o2: 4/3/1', 'remove o3: 3/2/1']);
    const r = projectShape(shape(3, 3, 0, 0, { strategy: 'rolling' }));
    expect(seq(r)).toEqual(['add n1: 4/3/1', 'remove o1: 3/2/1', 'add n2: 4/3/1', 'remove o2: 3/2/1', 'add n3: 4/3/1', 'remove o3: 3/2/1']);
    expect(r.peak).toBe(4);
    expect(g.peak).toBe(6);
  });

  it('replace one failed master: removed first, then its replacement joins; the kept two untouched', () => {
    const p = projectShape({
      oldMasters: [{ name: 'm1' }, { name: 'm2' }, { name: 'm3', failed: true }],
      newMasters: [{ name: 'm1' }, { name: 'm2' }, { name: 'm4' }],
    });
    expect(p.start.tolerates).toBe(0);
    expect(seq(p)).toEqual(['remove-failed m3: 2/2/0', 'add m4: 3/2/1']);
    expect(p.shared).toEqual(['m1', 'm2']);
    expect(p.problems).toEqual([]);
    expect(p.warnings.map((w) => w.message).join('\n')).toMatch(/m3 marked failed: its member is removed first/);
  });

  it('1 → 3, 3 → 5 and 5 → 3 (accepted)', () => {
    expect(seq(projectShape(shape(1, 3)))).toEqual(['add n1: 2/2/0', 'add n2: 3/2/1', 'add n3: 4/3/1', 'remove o1: 3/2/1']);
    const grow = projectShape(shape(3, 5, 0, 0, { strategy: 'rolling' }));
    expect(Math.max(...grow.steps.map((s) => s.voters))).toBe(6);
    expect(seq(projectShape(shape(5, 3, 0, 0, { strategy: 'rolling', acceptToleranceDrop: true })))).toEqual([
      'add n1: 6/4/2',
      'remove o1: 5/3/2',
      'add n2: 6/4/2',
      'remove o2: 5/3/2',
      'add n3: 6/4/2',
      'remove o3: 5/3/2',
      'remove o4: 4/3/1',
      'remove o5: 3/2/1',
    ]);
  });

  it('the default picks the strategy whose worst step tolerates more (ties go to grow-then-shrink)', () => {
    for (const n of SIZES) {
      for (const m of SIZES) {
        const p = projectShape(shape(n, m, 0, 0, { allowEvenMembers: true, acceptToleranceDrop: true }));
        const worst = (s: Strategy) => projectShape(shape(n, m, 0, 0, { strategy: s, allowEvenMembers: true, acceptToleranceDrop: true })).worstTolerates;
        if (n === 3 && m === 3) expect(p.strategy).toBe('grow-then-shrink');
        else expect(p.strategy).toBe(worst('rolling') > worst('grow-then-shrink') ? 'rolling' : 'grow-then-shrink');
        expect(p.worstTolerates).toBe(Math.max(worst('rolling'), worst('grow-then-shrink')));
      }
    }
  });
});
