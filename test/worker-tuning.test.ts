/** The worker's activity slots: room for the lock keeper of every migration it runs (pure). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONCURRENT_ACTIVITIES, workerTuning } from '../src/worker-tuning';

describe('workerTuning', () => {
  it('defaults well above the SDK default of 100 (one keeper slot per running migration)', () => {
    expect(workerTuning({}).maxConcurrentActivityTaskExecutions).toBe(DEFAULT_MAX_CONCURRENT_ACTIVITIES);
    expect(DEFAULT_MAX_CONCURRENT_ACTIVITIES).toBeGreaterThanOrEqual(400);
  });
  it('CPM_MAX_CONCURRENT_ACTIVITIES overrides it; nonsense is refused naming the variable', () => {
    expect(workerTuning({ CPM_MAX_CONCURRENT_ACTIVITIES: '250' }).maxConcurrentActivityTaskExecutions).toBe(250);
    for (const bad of ['0', '1', '-5', '2.5', 'many'])
      expect(() => workerTuning({ CPM_MAX_CONCURRENT_ACTIVITIES: bad })).toThrow(/CPM_MAX_CONCURRENT_ACTIVITIES must be an integer >= 2, got/);
  });
});
