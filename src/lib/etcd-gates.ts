/**
 * Data gates before etcd membership changes: server versions (the 3.5 learner
 * bug, mixed versions), the new member's quota against the database size,
 * and HashKV agreement. Pure: every function takes what was read and returns
 * the refusals (empty = go).
 */

export interface MemberVersion {
  /** "name (id)" */
  label: string;
  version: string;
}

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(v: string): SemVer | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** 3.5.0 to 3.5.25: learner promotions are not persisted correctly (etcd issue #19557; fixed in 3.5.26). */
export function hasLearnerPromotionBug(v: SemVer): boolean {
  return v.major === 3 && v.minor === 5 && v.patch <= 25;
}

export const LEARNER_BUG_EXPLANATION =
  'etcd 3.5.0 to 3.5.25 do not persist a learner promotion correctly (etcd issue #19557): the promoted member can stay a learner ' +
  'in the membership stored in the backend, and a later upgrade to etcd 3.6 then fails ("too many learner members" / a zombie member). ' +
  'Upgrade every member to etcd 3.5.26 or later (or 3.6) before adding members as learners, then retry.';

/**
 * Refusals for the versions of the members (and, after it started, the
 * joining one): unreadable versions, the learner bug when `learnerJoin`,
 * and mixes the etcd upgrade docs forbid (etcd upgrades one minor version at
 * a time: a cluster may only mix 3.N and 3.N+1, while upgrading).
 */
export function versionRefusals(members: readonly MemberVersion[], opts: { learnerJoin: boolean }): string[] {
  const out: string[] = [];
  const parsed = members.map((m) => ({ ...m, v: parseVersion(m.version) }));
  const unknown = parsed.filter((p) => !p.v);
  if (unknown.length)
    out.push(
      `cannot read the etcd server version of ${unknown.map((u) => `${u.label} ("${u.version}")`).join(', ')}: the version gates need every member's version`,
    );
  const known = parsed.filter((p): p is typeof p & { v: SemVer } => p.v !== undefined);
  if (opts.learnerJoin) {
    // by name, so the message reads the same whatever order etcd listed the members in
    const buggy = known.filter((p) => hasLearnerPromotionBug(p.v)).sort((a, b) => a.label.localeCompare(b.label));
    if (buggy.length) out.push(`refusing a learner join: ${buggy.map((b) => `${b.label} runs etcd ${b.version}`).join(', ')}. ${LEARNER_BUG_EXPLANATION}`);
  }
  const lines = [...new Set(known.map((p) => `${p.v.major}.${p.v.minor}`))].sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
  const majors = new Set(known.map((p) => p.v.major));
  const minors = known.map((p) => p.v.minor);
  if (majors.size > 1 || (minors.length && Math.max(...minors) - Math.min(...minors) > 1)) {
    out.push(
      `mixed etcd versions the upgrade docs forbid: ${known.map((p) => `${p.label} ${p.version}`).join(', ')} (lines ${lines.join(', ')}); ` +
        'a cluster may only mix two adjacent minor versions (3.N and 3.N+1) during an upgrade: upgrade (or choose) the members so they are within one minor version',
    );
  }
  return out;
}

export interface DbSize {
  label: string;
  bytes: number;
}

export const QUOTA_HEADROOM = 1.25;
const mib = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MiB`;

/** The new member's quota must hold the largest member's database with headroom (else NOSPACE once it votes). */
export function quotaRefusal(quotaBytes: number, dbs: readonly DbSize[], headroom = QUOTA_HEADROOM): string | undefined {
  const biggest = [...dbs].sort((a, b) => b.bytes - a.bytes)[0];
  if (!biggest) return undefined;
  const need = Math.ceil(biggest.bytes * headroom);
  if (quotaBytes >= need) return undefined;
  return (
    `the new member's quota-backend-bytes ${quotaBytes} (${mib(quotaBytes)}) is below the database size of ${biggest.label}, ${biggest.bytes} (${mib(biggest.bytes)}), ` +
    `plus ${Math.round((headroom - 1) * 100)}% headroom = ${need} (${mib(need)}): once it votes, etcd would raise NOSPACE and refuse every write. ` +
    'Raise quota-backend-bytes on the old members (the new ones carry it), or compact and defragment first'
  );
}

export interface HashRow {
  label: string;
  revision: string;
  compactRevision: string;
  hash: string;
}

export function formatHashes(rows: readonly HashRow[]): string {
  return rows.map((r) => `${r.label}: hash ${r.hash} (compact revision ${r.compactRevision})`).join('; ');
}

/** Do the HashKV answers at one revision agree? Rows with different compact revisions are not comparable (undefined). */
export function hashesAgree(rows: readonly HashRow[]): boolean | undefined {
  if (new Set(rows.map((r) => r.compactRevision)).size > 1) return undefined;
  return new Set(rows.map((r) => r.hash)).size <= 1;
}
