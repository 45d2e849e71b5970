/** The member list: ids as decimal strings, labels, voters, discovery from seed endpoints. */
import { Etcd3, type IMember } from 'etcd3';
import { createEtcdClient, errorText, type EtcdAccess } from './client';

export interface EtcdMember {
  /** decimal uint64 */
  id: string;
  /** empty until the member has started and published its name */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function toMember(m: IMember): EtcdMember {
  return {
    id: String(m.ID),
    name: m.name ?? '',
    peerURLs: [...(m.peerURLs ?? [])],
    clientURLs: [...(m.clientURLs ?? [])],
    isLearner: Boolean(m.isLearner),
  };
}

export function memberLabel(m: Pick<EtcdMember, 'id' | 'name' | 'peerURLs'>): string {
  return m.name ? `${m.name} (${m.id})` : `${m.id} (not started, ${m.peerURLs.join(',')})`;
}

export async function listMembers(client: Etcd3): Promise<EtcdMember[]> {
  const res = await client.cluster.memberList({});
  return res.members.map(toMember);
}

/** Client URLs of started voters: where reads and membership changes go. */
export function voterEndpoints(members: readonly EtcdMember[]): string[] {
  return [...new Set(members.filter((m) => !m.isLearner && m.name !== '').flatMap((m) => m.clientURLs))].sort();
}

/**
 * The live member list, asked of every seed endpoint at once; the first
 * voter that answers wins. Throws when none answers.
 */
export async function discoverMembers(
  access: EtcdAccess,
  seeds: readonly string[],
): Promise<{ members: EtcdMember[]; answeredBy: string; endpoints: string[] }> {
  const unique = [...new Set(seeds)];
  if (unique.length === 0) throw new Error('no etcd endpoints in the plan');
  const clients = unique.map((u) => ({ url: u, client: createEtcdClient(access, [u]) }));
  try {
    const first = await Promise.any(clients.map(async ({ url, client }) => ({ url, members: await listMembers(client) }))).catch((e: unknown) => {
      const errs = e instanceof AggregateError ? e.errors : [e];
      throw new Error(`no etcd member answered the member list (tried ${unique.join(', ')}): ${[...new Set(errs.map(errorText))].join('; ')}`);
    });
    const endpoints = voterEndpoints(first.members);
    return { members: first.members, answeredBy: first.url, endpoints: endpoints.length ? endpoints : [first.url] };
  } finally {
    for (const c of clients) c.client.close();
  }
}
