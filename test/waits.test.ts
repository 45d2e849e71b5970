/** The timing record of where an activity waited (pure). */
import { describe, expect, it } from 'vitest';
import { collectWaits, waitTimer } from '../src/lib/waits';

describe('waitTimer', () => {
  it('needed = start → the start of the last check that found "not yet"; the rest is check latency and poll interval', async () => {
    let t = 1_000;
    const now = () => t;
    const { result, waits } = collectWaits(async () => {
      const w = waitTimer('kube-apiserver on master-1 ready', now);
      for (const [checkAt, answerAt, ready] of [
        [1_000, 1_050, false],
        [2_050, 2_100, false],
        [3_100, 3_140, true],
      ] as const) {
        t = checkAt;
        w.check();
        t = answerAt;
        if (ready) w.done();
        else w.notYet();
      }
      w.done(); // a second done() records nothing more
      return 'ok';
    });
    expect(await result).toBe('ok');
    expect(waits).toEqual([{ what: 'kube-apiserver on master-1 ready', ms: 2_140, neededMs: 1_050, checks: 3, ok: true }]);
  });

  it('done at the first check: nothing was needed; a give-up is recorded as not ok', async () => {
    let t = 0;
    const { result, waits } = collectWaits(async () => {
      const a = waitTimer('a', () => t);
      a.check();
      t = 30;
      a.done();
      const b = waitTimer('b', () => t);
      b.check();
      b.notYet();
      t = 90;
      b.done(false);
    });
    await result;
    expect(waits).toEqual([
      { what: 'a', ms: 30, neededMs: 0, checks: 1, ok: true },
      { what: 'b', ms: 60, neededMs: 0, checks: 1, ok: false },
    ]);
  });

  it('outside collectWaits nothing is kept; concurrent collections stay apart', async () => {
    const lone = waitTimer('nobody listens');
    lone.check();
    lone.done();
    const one = collectWaits(async () => {
      await new Promise((r) => setTimeout(r, 5));
      waitTimer('one').done();
    });
    const two = collectWaits(async () => waitTimer('two').done());
    await Promise.all([one.result, two.result]);
    expect(one.waits.map((w) => w.what)).toEqual(['one']);
    expect(two.waits.map((w) => w.what)).toEqual(['two']);
  });
});
