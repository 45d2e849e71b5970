/** The etcd data gates as pure functions: versions, quota, HashKV agreement. */
import { describe, expect, it } from 'vitest';
import { hashesAgree, hasLearnerPromotionBug, parseVersion, quotaRefusal, versionRefusals } from '../src/lib/etcd-gates';

const m = (label: string, version: string) => ({ label, version });

describe('etcd version gates', () => {
  it('refuses learner joins on 3.5.0-3.5.25 with the #19557 explanation, not on 3.5.26+, 3.4 or 3.6', () => {
    for (const v of ['3.5.0', '3.5.21', '3.5.25']) {
      const r = versionRefusals([m('a (1)', v), m('b (2)', v)], { learnerJoin: true });
      expect(r).toHaveLength(1);
      expect(r[0]).toMatch(new RegExp(`a \\(1\\) runs etcd ${v.replace(/\./g, '\\.')}, b \\(2\\) runs etcd`));
      expect(r[0]).toMatch(/#19557.*too many learner members.*3\.5\.26 or later/);
      expect(versionRefusals([m('a', v)], { learnerJoin: false })).toEqual([]);
    }
    for (const v of ['3.5.26', '3.5.30', '3.4.30', '3.6.6']) expect(versionRefusals([m('a', v)], { learnerJoin: true })).toEqual([]);
    expect(hasLearnerPromotionBug(parseVersion('3.5.25') as NonNullable<ReturnType<typeof parseVersion>>)).toBe(true);
  });

  it('refuses mixes the upgrade docs forbid (more than one minor apart, other majors), allows adjacent minors', () => {
    expect(versionRefusals([m('a', '3.4.30'), m('b', '3.5.26')], { learnerJoin: false })).toEqual([]);
    expect(versionRefusals([m('a', '3.5.26'), m('b', '3.6.6')], { learnerJoin: false })).toEqual([]);
    const r = versionRefusals([m('a', '3.4.30'), m('b', '3.6.6')], { learnerJoin: false });
    expect(r[0]).toMatch(/mixed etcd versions .*a 3\.4\.30, b 3\.6\.6 \(lines 3\.4, 3\.6\)/);
    expect(versionRefusals([m('a', 'unreadable: timeout')], { learnerJoin: false })[0]).toMatch(/cannot read the etcd server version of a/);
  });
});

describe('quota gate', () => {
  it('refuses a new member whose quota would not hold the largest database plus 25%', () => {
    const gib = 1024 ** 3;
    expect(quotaRefusal(8 * gib, [{ label: 'a', bytes: 3 * gib }])).toBeUndefined();
    const r = quotaRefusal(2 * gib, [
      { label: 'a', bytes: 1 * gib },
      { label: 'b', bytes: 1.8 * gib },
    ]);
    expect(r).toMatch(
      /quota-backend-bytes 2147483648 \(2048\.0 MiB\) is below the database size of b, .*\(1843\.2 MiB\), plus 25% headroom = 2415919104 \(2304\.0 MiB\).*NOSPACE/,
    );
    expect(quotaRefusal(1, [])).toBeUndefined();
  });
});

describe('HashKV agreement', () => {
  it('agrees, disagrees, or cannot compare (different compact revisions)', () => {
    const row = (label: string, hash: string, compactRevision = '10') => ({ label, revision: '42', compactRevision, hash });
    expect(hashesAgree([row('a', '1'), row('b', '1')])).toBe(true);
    expect(hashesAgree([row('a', '1'), row('b', '2')])).toBe(false);
    expect(hashesAgree([row('a', '1'), row('b', '2', '11')])).toBeUndefined();
  });
});
