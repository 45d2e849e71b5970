/** Every activity the worker registers is either lock-guarded (it changes something) or listed as read-only. */
import { describe, expect, it } from 'vitest';
import { createActivities } from '../src/activities';
import { MUTATING_ACTIVITIES, UNGUARDED_ACTIVITIES } from '../src/activities/lock';

describe('the lock guard covers every activity that changes something', () => {
  it('classifies every registered activity exactly once', () => {
    const names = Object.keys(createActivities()).sort();
    const classified = [...MUTATING_ACTIVITIES, ...UNGUARDED_ACTIVITIES] as string[];
    expect(
      names.filter((n) => !classified.includes(n)),
      'add new activities to MUTATING_ACTIVITIES (or UNGUARDED_ACTIVITIES if read-only) in src/activities/lock.ts',
    ).toEqual([]);
    expect(classified.filter((n) => !names.includes(n))).toEqual([]);
    expect(new Set(classified).size).toBe(classified.length);
  });
});
