/**
 * Where an activity waited for the cluster, as a small timing record: for each
 * wait (a daemon from start to ready, an etcd reconfiguration refused while
 * the cluster settles, a learner catching up, the VIP moving, evictions), how
 * long it took and how much of it the cluster certainly needed — from the
 * start to the last check that still found it not done (a lower bound; the
 * rest is check latency and poll interval).
 *
 * The liveness interceptor (src/activities/liveness.ts) collects them per
 * activity attempt and writes them into its "activity completed" line on the
 * worker's stdout; `npm run bench` reads them from there. Outside an activity
 * nothing is collected. Nothing here changes what an activity returns.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface WaitRecord {
  what: string;
  /** start → done (or given up) */
  ms: number;
  /** start → the start of the last check that found it not done yet: what the cluster needed at least */
  neededMs: number;
  checks: number;
  ok: boolean;
}

const store = new AsyncLocalStorage<WaitRecord[]>();

/** Run `fn` collecting the waits it records; `waits` fills in as it runs. */
export function collectWaits<T>(fn: () => Promise<T>): { result: Promise<T>; waits: WaitRecord[] } {
  const waits: WaitRecord[] = [];
  return { result: store.run(waits, fn), waits };
}

/** A wait under way: call check() before every check, notYet() when it found "not yet", done() at the end. */
export interface WaitTimer {
  check(): void;
  notYet(): void;
  done(ok?: boolean): void;
}

export function waitTimer(what: string, now: () => number = Date.now): WaitTimer {
  const started = now();
  let checkStarted = started;
  let lastNotYet = started;
  let checks = 0;
  let finished = false;
  return {
    check() {
      checkStarted = now();
      checks += 1;
    },
    notYet() {
      lastNotYet = checkStarted;
    },
    done(ok = true) {
      if (finished) return;
      finished = true;
      store.getStore()?.push({ what, ms: now() - started, neededMs: lastNotYet - started, checks, ok });
    },
  };
}
