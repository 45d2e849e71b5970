/**
 * What changed between the evidence an approval saw and the evidence read
 * right before acting, in words an approver reads ("etcd member master-2 was
 * healthy, now unhealthy: unreachable"). Covers exactly what the digest covers
 * (src/lib/evidence.ts): a changed digest always yields at least one line.
 * Pure, no Node built-ins: workflow code uses it.
 */
import type { CheckpointEvidence, EvidenceMember } from './evidence';

function listDiff(what: string, before: readonly string[] = [], after: readonly string[] = []): string[] {
  const a = new Set(after);
  const b = new Set(before);
  return [...after.filter((x) => !b.has(x)).map((x) => `${what} ${x}: new`), ...before.filter((x) => !a.has(x)).map((x) => `${what} ${x}: gone`)];
}

const role = (m: EvidenceMember) => (m.learner ? 'learner' : 'voter');
const health = (m: EvidenceMember) => (m.healthy ? 'healthy' : 'unhealthy');

function memberDiff(before: CheckpointEvidence, after: CheckpointEvidence): string[] {
  const out: string[] = [];
  const problem = new Map(after.observed.members.map((m) => [m.name, m.problem]));
  const why = (name: string) => (problem.get(name) ? `: ${problem.get(name)}` : '');
  const was = new Map(before.facts.etcd.members.map((m) => [m.name, m]));
  const now = new Map(after.facts.etcd.members.map((m) => [m.name, m]));
  for (const [name, m] of now) {
    const o = was.get(name);
    if (!o) {
      out.push(`etcd member ${name} (${m.id}) was added: ${role(m)}, ${health(m)}${m.healthy ? '' : why(name)}`);
      continue;
    }
    if (o.id !== m.id) out.push(`etcd member ${name} was replaced: id ${o.id}, now ${m.id}`);
    if (o.peerURLs.join(',') !== m.peerURLs.join(',')) out.push(`etcd member ${name}'s peer URLs were ${o.peerURLs.join(',')}, now ${m.peerURLs.join(',')}`);
    if (o.learner !== m.learner) out.push(`etcd member ${name} was a ${role(o)}, now a ${role(m)}`);
    if (o.healthy !== m.healthy) out.push(`etcd member ${name} was ${health(o)}, now ${health(m)}${m.healthy ? '' : why(name)}`);
  }
  for (const [name, o] of was) if (!now.has(name)) out.push(`etcd member ${name} (${o.id}) was removed`);
  return out;
}

/** Every difference between the approved evidence and the fresh one; empty when the digests agree. */
export function evidenceChanges(before: CheckpointEvidence, after: CheckpointEvidence): string[] {
  if (before.digest === after.digest) return [];
  if (after.unreadable) return [`the evidence could not be read again (${after.unreadable})`];
  if (before.unreadable) return ['the evidence could be read again (it could not when approved)'];
  const out: string[] = [];
  const [b, a] = [before.facts, after.facts];
  if (b.etcd.readable !== a.etcd.readable) {
    out.push(
      a.etcd.readable
        ? `etcd's member list could be read again (${a.etcd.members.length} members)`
        : `etcd's member list could not be read (it had ${b.etcd.members.length} members)${after.observed.problems.length ? `: ${after.observed.problems.join('; ')}` : ''}`,
    );
  } else {
    out.push(...memberDiff(before, after));
    if (b.etcd.hasLeader !== a.etcd.hasLeader)
      out.push(a.etcd.hasLeader ? `etcd had no leader, now has one (${after.observed.leader ?? '?'})` : 'etcd had a leader, now has none');
  }
  out.push(...listDiff('etcd alarm', b.etcd.alarms, a.etcd.alarms));
  if (b.vip.holders.join(',') !== a.vip.holders.join(',')) {
    const who = (h: string[]) => (h.length ? h.join(' and ') : 'no checked host');
    out.push(`VIP ${a.vip.address} was held by ${who(b.vip.holders)}, now by ${who(a.vip.holders)}`);
  }
  const unchecked = new Set(b.vip.unchecked);
  for (const h of a.vip.unchecked) if (!unchecked.has(h)) out.push(`the VIP could not be checked on ${h} (it could when approved)`);
  for (const h of b.vip.unchecked) if (!a.vip.unchecked.includes(h)) out.push(`the VIP could be checked on ${h} again`);
  out.push(...listDiff('inventory reference', b.inventory, a.inventory));
  out.push(...listDiff('parity', b.parity, a.parity));
  out.push(...listDiff('client fix', b.clientFixes, a.clientFixes));
  if (b.gate !== a.gate) out.push(`evidence of checkpoint ${b.gate}, now of ${a.gate}`);
  // the digest covers exactly the facts above; a change they do not name is still a change
  if (!out.length) out.push(`the evidence digest changed (${before.digest.slice(0, 12)}, now ${after.digest.slice(0, 12)})`);
  return out;
}
