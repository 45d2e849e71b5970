/**
 * A checkpoint's evidence: what an approver looks at (etcd members and their
 * health, who holds the VIP, plus what the workflow already knows for that
 * gate: the inventory of references to old masters, flag parity differences,
 * the client fixes) and what the approval's digest covers. Pure, no Node
 * built-ins: the workflow imports it (the sha256 is taken by the activity,
 * src/lib/evidence-digest.ts).
 *
 * What the digest covers (`facts`) is what an approver would decide on; what
 * changes routinely or every second is shown but NOT digested (`observed`):
 *   digested: every etcd member (name, id, peer URLs, learner or voter,
 *     healthy or not), whether the member list could be read, whether the
 *     cluster has a leader, active alarms; the VIP holders and the masters
 *     whose VIP could not be checked; inventory reference ids (and whether
 *     each is expected); parity and client-fix lines.
 *   not digested: WHICH member leads (leader changes are routine: a new
 *     leader is no reason to ask again; no leader at all is), raft indexes,
 *     database sizes, the text of a member's problem (it carries raft index
 *     numbers), when the evidence was read.
 * Names, addresses and health only: never a secret (it is in workflow history).
 */
import type { EtcdHealthReport } from './etcd';

export interface EvidenceMember {
  /** member name; a member that never started has none: its id then */
  name: string;
  /** decimal uint64 */
  id: string;
  peerURLs: string[];
  learner: boolean;
  healthy: boolean;
}

/** What the digest covers: canonical (every list sorted), so the same cluster gives the same digest. */
export interface EvidenceFacts {
  gate: string;
  etcd: { readable: boolean; hasLeader: boolean; members: EvidenceMember[]; alarms: string[] };
  vip: { address: string; holders: string[]; unchecked: string[] };
  /** decommission: references to old masters, `REF` or `REF (expected)` */
  inventory?: string[];
  /** flag parity of the new components (from their step summaries) */
  parity?: string[];
  /** client-fixes: every change */
  clientFixes?: string[];
}

/** Shown with the evidence, never digested. */
export interface EvidenceObserved {
  /** when it was read (worker clock) */
  at: string;
  /** the leader's member name (or id) */
  leader?: string;
  /** per member: its problem, raft index and database size, when known */
  members: Array<{ name: string; problem?: string; raftIndex?: string; dbSize?: number }>;
  /** the cluster's problems as etcd health reported them */
  problems: string[];
}

export interface CheckpointEvidence {
  facts: EvidenceFacts;
  /** lower-case hex sha256 of canonicalJson(facts); `unreadable` when the evidence could not be gathered */
  digest: string;
  observed: EvidenceObserved;
  /** why the evidence could not be gathered (the activity failed for good) */
  unreadable?: string;
}

/** What the workflow passes in: the parts it already knows for the gate. */
export interface KnownEvidence {
  inventory?: Array<{ ref: string; expected?: string }>;
  parity?: string[];
  clientFixes?: string[];
}

/** The digest of evidence that could not be gathered: two unreadable readings agree (nothing to compare). */
export const UNREADABLE_DIGEST = 'unreadable';

const sorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

export function memberKey(m: { name: string; id: string }): string {
  return m.name || `(unstarted ${m.id})`;
}

/** JSON with object keys sorted at every level (arrays kept in their order): the digest's input. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface EvidenceInput {
  gate: string;
  health: EtcdHealthReport;
  vip: { address: string; holders: readonly string[]; unchecked: readonly string[] };
  known?: KnownEvidence;
  at: string;
}

/** The facts and the observed part from what was read. */
export function buildEvidence(input: EvidenceInput): { facts: EvidenceFacts; observed: EvidenceObserved } {
  const { health, known = {} } = input;
  const members = [...health.members].sort((a, b) => (memberKey(a) < memberKey(b) ? -1 : memberKey(a) > memberKey(b) ? 1 : a.id < b.id ? -1 : 1));
  const facts: EvidenceFacts = {
    gate: input.gate,
    etcd: {
      // an empty member list means etcd could not be read (a cluster always has a member)
      readable: members.length > 0,
      hasLeader: health.leaderId !== undefined,
      members: members.map((m) => ({
        name: memberKey(m),
        id: m.id,
        peerURLs: sorted(m.peerURLs),
        learner: m.isLearner,
        healthy: m.reachable && !m.error && m.name !== '',
      })),
      alarms: sorted(health.alarms),
    },
    vip: { address: input.vip.address, holders: sorted(input.vip.holders), unchecked: sorted(input.vip.unchecked) },
  };
  if (known.inventory) facts.inventory = sorted(known.inventory.map((r) => (r.expected ? `${r.ref} (expected)` : r.ref)));
  if (known.parity) facts.parity = sorted(known.parity);
  if (known.clientFixes) facts.clientFixes = sorted(known.clientFixes);
  const leader = health.leaderId === undefined ? undefined : members.find((m) => m.id === health.leaderId);
  const observed: EvidenceObserved = {
    at: input.at,
    ...(health.leaderId !== undefined ? { leader: leader ? memberKey(leader) : health.leaderId } : {}),
    members: members.map((m) => ({
      name: memberKey(m),
      ...(m.error ? { problem: m.error } : {}),
      ...(m.raftIndex !== undefined ? { raftIndex: m.raftIndex } : {}),
      ...(m.dbSize !== undefined ? { dbSize: m.dbSize } : {}),
    })),
    problems: [...health.problems],
  };
  return { facts, observed };
}

/** Evidence that could not be gathered (the workflow's stand-in when the activity failed for good). */
export function unreadableEvidence(gate: string, vip: string, why: string, at: string): CheckpointEvidence {
  return {
    facts: { gate, etcd: { readable: false, hasLeader: false, members: [], alarms: [] }, vip: { address: vip, holders: [], unchecked: [] } },
    digest: UNREADABLE_DIGEST,
    observed: { at, members: [], problems: [why] },
    unreadable: why,
  };
}

/** The evidence as lines for status, the Web UI and the step summary. */
export function describeEvidence(e: CheckpointEvidence): string[] {
  if (e.unreadable) return [`evidence could not be read (${e.unreadable}): an approval approves without it`];
  const f = e.facts;
  const lines: string[] = [];
  if (!f.etcd.readable) lines.push(`etcd: member list unreadable${e.observed.problems.length ? ` (${e.observed.problems.join('; ')})` : ''}`);
  else {
    const healthy = f.etcd.members.filter((m) => m.healthy).length;
    lines.push(
      `etcd: ${f.etcd.members.length} member(s), ${healthy} healthy, ${f.etcd.hasLeader ? `leader ${e.observed.leader ?? '?'}` : 'NO LEADER'}${f.etcd.alarms.length ? `, alarms: ${f.etcd.alarms.join(', ')}` : ''}`,
    );
    const why = new Map(e.observed.members.map((m) => [m.name, m.problem]));
    for (const m of f.etcd.members) {
      lines.push(
        `etcd member ${m.name} (${m.id}, ${m.peerURLs.join(',')}): ${m.learner ? 'learner' : 'voter'}, ${m.healthy ? 'healthy' : `UNHEALTHY${why.get(m.name) ? `: ${why.get(m.name)}` : ''}`}`,
      );
    }
  }
  const holders = f.vip.holders.length ? `held by ${f.vip.holders.join(' and ')}` : 'held by no checked host';
  lines.push(`VIP ${f.vip.address}: ${holders}${f.vip.unchecked.length ? `; not checked on ${f.vip.unchecked.join(', ')}` : ''}`);
  if (f.inventory) lines.push(`inventory: ${f.inventory.length ? f.inventory.join(', ') : 'nothing names an old master'}`);
  for (const p of f.parity ?? []) lines.push(`parity: ${p}`);
  for (const c of f.clientFixes ?? []) lines.push(`client fix: ${c}`);
  return lines;
}

/** One line: the digest's first 12 characters and the gist (for the step summary). */
export function evidenceGist(e: CheckpointEvidence): string {
  if (e.unreadable) return 'evidence unreadable';
  const m = e.facts.etcd.members;
  const etcd = e.facts.etcd.readable ? `${m.filter((x) => x.healthy).length}/${m.length} etcd members healthy` : 'etcd unreadable';
  const vip = e.facts.vip.holders.length ? `VIP on ${e.facts.vip.holders.join('+')}` : 'VIP on no checked host';
  return `evidence ${e.digest.slice(0, 12)}: ${etcd}, ${vip}`;
}
