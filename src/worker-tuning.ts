/**
 * Worker slot sizes, shared by the worker (src/worker.ts) and the fleet
 * benchmark (src/bench/fleet-worker.ts), so the benchmark measures what runs.
 *
 * Every running migration holds one activity slot for as long as it runs: its
 * cluster-lock keeper (src/workflows/lock.ts) is a heartbeating activity beside
 * the steps. With the SDK's default of 100 slots, 100 migrations on one worker
 * fill every slot with keepers and none of them can run a step again (measured
 * by `npm run bench -- fleet`). Activities here wait on I/O (SSH, etcd, the
 * API), so slots are cheap: the default leaves room for 500 migrations at once.
 * CPM_MAX_CONCURRENT_ACTIVITIES overrides it.
 */
export const DEFAULT_MAX_CONCURRENT_ACTIVITIES = 1_000;

export function workerTuning(env: NodeJS.ProcessEnv = process.env): { maxConcurrentActivityTaskExecutions: number } {
  const raw = env.CPM_MAX_CONCURRENT_ACTIVITIES;
  if (raw === undefined || raw === '') return { maxConcurrentActivityTaskExecutions: DEFAULT_MAX_CONCURRENT_ACTIVITIES };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) throw new Error(`CPM_MAX_CONCURRENT_ACTIVITIES must be an integer >= 2, got '${raw}'`);
  return { maxConcurrentActivityTaskExecutions: n };
}
