import { describe, expect, it } from 'vitest';
import { RoundClock } from '../src/demo/monitor';

describe('the safety monitor ages members on a round clock', () => {
  it('counts a starved round as one round budget, and a member that is really down still ages out', () => {
    const c = new RoundClock(2_100);
    const lastOk = c.tick(10_000); // every member answered here
    // the monitor is starved for 6 s (timers late): one round, which must not age everyone out of a 1.5 s window...
    const starved = c.tick(16_000);
    expect(starved - lastOk).toBeLessThanOrEqual(2_100);
    expect(c.stalls()).toEqual({ count: 1, longestMs: 6_000 });
    // ...but with a 1.5 s window a member that stays silent is out after the next rounds on time
    let now = starved;
    for (const wall of [17_100, 18_200]) now = c.tick(wall);
    expect(now - lastOk).toBeGreaterThan(1_500 + 2_100);
    expect(c.stalls().count).toBe(1);
  });

  it('does not advance in a round whose own timers fired late', () => {
    const c = new RoundClock(2_100);
    c.tick(1_000);
    expect(c.tick(4_000, true)).toBe(0);
    expect(c.tick(4_100)).toBe(100);
    expect(c.stalls()).toEqual({ count: 1, longestMs: 3_000 });
  });

  it('advances with the wall clock while rounds run on time', () => {
    const c = new RoundClock(2_100);
    expect([c.tick(1_000), c.tick(1_100), c.tick(2_300), c.tick(2_400)]).toEqual([0, 100, 1_300, 1_400]);
    expect(c.stalls()).toEqual({ count: 0, longestMs: 0 });
  });
});
