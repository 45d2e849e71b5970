/**
 * The host-key pin policy: a pinned `hostKeyFingerprint`, else the
 * known_hosts entries for the host, else refuse. `verifyHostKey` is what
 * ssh2's hostVerifier asks; a refusal carries the error to report.
 */
import { readFile } from 'node:fs/promises';
import { HostKeyMismatchError, UnknownHostKeyError } from '../../errors';
import type { SshTarget } from '../../plan/hosts';
import { expandHome } from '../paths';
import { keyTypeOfBlob, knownHostsName, knownHostsPatternMatches, parseKnownHosts, sshFingerprint, type KnownHostEntry } from './known-hosts';

/** Server host key algorithms that produce keys of a given known_hosts key type. */
export const HOST_KEY_ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Key families tried in turn when a pinned fingerprint does not match the first key offered. */
export const KEY_FAMILIES: string[][] = [['ssh-ed25519'], ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'], ['ssh-rsa']];

export type HostKeyPolicy =
  | { kind: 'pin'; fingerprint: string }
  | { kind: 'known'; file: string; keys: KnownHostEntry[]; revoked: KnownHostEntry[] }
  | { kind: 'unknown'; file?: string; revoked: KnownHostEntry[] };

/** Internal to the pin loop: the server offered a key of another family than the pin's. */
export class PinMismatch extends Error {
  constructor(
    readonly keyType: string,
    readonly got: string,
  ) {
    super(`host key ${got} (${keyType}) does not match the pin`);
  }
}

/** Internal to the pin loop: the server offers none of the algorithms asked for. */
export class NoCommonHostKey extends Error {}

export async function hostKeyPolicy(t: SshTarget): Promise<HostKeyPolicy> {
  if (t.hostKeyFingerprint) return { kind: 'pin', fingerprint: t.hostKeyFingerprint.replace(/=+$/, '') };
  if (!t.knownHostsPath) return { kind: 'unknown', revoked: [] };
  const file = expandHome(t.knownHostsPath);
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read known_hosts ${file}: ${(e as Error).message}`);
  }
  const name = knownHostsName(t.address, t.port);
  const entries = parseKnownHosts(text).filter((e) => knownHostsPatternMatches(e.hostPatterns, name));
  const revoked = entries.filter((e) => e.marker === '@revoked');
  const keys = entries.filter((e) => !e.marker && HOST_KEY_ALGOS[e.keyType]);
  return keys.length ? { kind: 'known', file, keys, revoked } : { kind: 'unknown', file, revoked };
}

/** The server host key algorithms to offer for a known_hosts policy (its entries' types). */
export function knownAlgorithms(policy: Extract<HostKeyPolicy, { kind: 'known' }>): string[] {
  return [...new Set(policy.keys.flatMap((e) => HOST_KEY_ALGOS[e.keyType] ?? []))];
}

/** Accept the key the server offered (undefined), or the error to refuse it with. */
export function verifyHostKey(policy: HostKeyPolicy, key: Buffer, target: SshTarget): Error | undefined {
  const who = `${target.name} (${target.address}:${target.port})`;
  const got = sshFingerprint(key);
  const type = keyTypeOfBlob(key);
  if (policy.kind !== 'pin' && policy.revoked.some((e) => e.key.equals(key))) {
    return new HostKeyMismatchError(who, 'a key not marked @revoked', `${got} (${type}), marked @revoked in ${policy.file ?? 'known_hosts'}`);
  }
  if (policy.kind === 'pin') return got === policy.fingerprint ? undefined : new PinMismatch(type, got);
  if (policy.kind === 'known') {
    if (policy.keys.some((e) => e.key.equals(key))) return undefined;
    const expected = policy.keys.map((e) => `${sshFingerprint(e.key)} (${e.keyType}, ${policy.file}:${e.line})`).join(', ');
    return new HostKeyMismatchError(who, expected, `${got} (${type})`);
  }
  const where = policy.file ? `${policy.file} has no entry for ${knownHostsName(target.address, target.port)}` : 'no knownHostsPath is set';
  return new UnknownHostKeyError(
    who,
    got,
    `unknown host key for ${who}: the server offered ${got} (${type}), but no hostKeyFingerprint is pinned and ${where}; refusing to connect. ` +
      `Check the key on the host itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pin it in the plan ` +
      `(ssh.hostKeyFingerprint: ${got}), or add it to known_hosts (ssh-keyscan -p ${target.port} ${target.address} >> ${policy.file ?? '~/.ssh/known_hosts'}).`,
  );
}
