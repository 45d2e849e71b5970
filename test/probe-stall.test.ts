/**
 * The availability probe tells its own stalls from the API's gaps: on a loaded
 * machine the probe process is starved of CPU, and a gap it measures then is
 * partly its own (src/demo/probe.ts). Runs the real probe against an API double
 * that always answers, and blocks the probe's event loop.
 */
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { AvailabilityProbe, describeGap, overlapMs } from '../src/demo/probe';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** an API that answers every read and write at once */
const alwaysUp = {
  readNamespacedConfigMap: async () => ({}),
  replaceNamespacedConfigMap: async () => ({}),
  createNamespacedConfigMap: async () => ({}),
} as unknown as k8s.CoreV1Api;

describe('availability probe stalls', () => {
  it('overlapMs sums the stall windows inside a gap', () => {
    expect(
      overlapMs(100, 200, [
        { from: 50, to: 120 },
        { from: 150, to: 160 },
        { from: 300, to: 400 },
      ]),
    ).toBe(30);
    expect(overlapMs(100, 200, [])).toBe(0);
  });

  it('a gap made by the probe process being starved is reported as such, not as the API being down', async () => {
    const probe = new AvailabilityProbe(alwaysUp, { intervalMs: 20 });
    probe.start();
    await sleep(200);
    const until = Date.now() + 700;
    while (Date.now() < until) {
      // the probe's process gets no CPU for 700 ms (a loaded machine)
    }
    await sleep(200);
    const r = await probe.stop();
    expect(r.failed).toBe(0);
    expect(r.longestGapMs).toBeGreaterThanOrEqual(700);
    expect(r.stalls.count).toBeGreaterThanOrEqual(1);
    expect(r.stalls.longestMs).toBeGreaterThanOrEqual(400);
    expect(r.longestGapStarvedMs).toBeGreaterThanOrEqual(400);
    expect(r.longestUnstarvedGapMs).toBeLessThan(400);
    expect(describeGap(r)).toMatch(/of which the probe itself was starved of CPU \d+ ms; longest gap while the probe ran: \d+ ms/);
  });

  it("a gap while the probe runs is the API's: nothing starved", async () => {
    let down = false;
    const flaky = {
      ...alwaysUp,
      readNamespacedConfigMap: async () => {
        if (down) throw new Error('connection refused');
        return {};
      },
      replaceNamespacedConfigMap: async () => {
        if (down) throw new Error('connection refused');
        return {};
      },
    } as unknown as k8s.CoreV1Api;
    const probe = new AvailabilityProbe(flaky, { intervalMs: 20 });
    probe.start();
    await sleep(150);
    down = true;
    await sleep(600);
    down = false;
    await sleep(150);
    const r = await probe.stop();
    expect(r.failed).toBeGreaterThan(0);
    expect(r.longestGapMs).toBeGreaterThanOrEqual(550);
    // (a loaded machine may stall the probe a little inside the gap too; never most of it)
    expect(r.longestGapStarvedMs).toBeLessThan(r.longestGapMs / 2);
    expect(r.longestUnstarvedGapMs).toBe(r.longestGapMs);
    if (r.longestGapStarvedMs === 0) expect(describeGap(r)).toBe(`longest gap ${r.longestGapMs} ms at ${r.longestGapAt}`);
  });
});
