/**
 * Opening one SSH connection (ssh2): read the private key from
 * `privateKeyPath` (never kept in the plan), verify the host key by the pin
 * policy, and classify failures (auth, unreachable, mismatch). A pinned
 * fingerprint of another key family than the server's first offer is tried
 * once per family. Agent forwarding is never requested.
 */
import { readFile } from 'node:fs/promises';
import { Client, utils, type ConnectConfig } from 'ssh2';
import { HostKeyMismatchError, HostUnreachableError, SshAuthError } from '../../errors';
import type { SshTarget } from '../../plan/hosts';
import { expandHome } from '../paths';
import { checkSshTarget, enforce } from '../policy';
import { HOST_KEY_ALGOS, KEY_FAMILIES, NoCommonHostKey, PinMismatch, hostKeyPolicy, knownAlgorithms, verifyHostKey, type HostKeyPolicy } from './host-key';

/** One open connection and its pool bookkeeping. */
export interface Conn {
  id: number;
  target: SshTarget;
  client: Client;
  /** channels running now */
  active: number;
  /** callers waiting for a channel slot */
  waiters: Array<() => void>;
  idleTimer?: NodeJS.Timeout;
  closed: boolean;
  closedP: Promise<void>;
}

/** What the pool is told about a connection's life. */
export interface ConnHooks {
  nextId(): number;
  /** handshake and auth completed */
  onReady(conn: Conn): void;
  /** the connection closed (after ready or not) */
  onClose(conn: Conn): void;
}

async function readPrivateKey(target: SshTarget): Promise<{ key: Buffer; path: string }> {
  const path = expandHome(target.privateKeyPath);
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (e) {
    throw new SshAuthError(target.name, `cannot read private key ${path} for ${target.name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) {
    throw new SshAuthError(target.name, `cannot use private key ${path} for ${target.name}: ${parsed.message} (passphrase-protected keys are not supported)`);
  }
  return { key, path };
}

/** Connect to `target`, or throw a classified error. The worker policy is checked before any key is read or packet sent. */
export async function openConnection(target: SshTarget, hooks: ConnHooks): Promise<Conn> {
  enforce((p) => checkSshTarget(p, target));
  const { key, path } = await readPrivateKey(target);
  const policy = await hostKeyPolicy(target);
  if (policy.kind === 'known') return handshake(target, key, path, policy, knownAlgorithms(policy), hooks);
  if (policy.kind === 'unknown') return handshake(target, key, path, policy, undefined, hooks);

  // pinned: the server may offer another key type first; try each family once
  const seen: Array<{ type: string; fp: string }> = [];
  let lastErr: unknown;
  for (const attempt of [undefined, ...KEY_FAMILIES]) {
    if (attempt && seen.some((s) => attempt.includes(s.type))) continue;
    const algos = attempt?.flatMap((ty) => HOST_KEY_ALGOS[ty] ?? []);
    try {
      return await handshake(target, key, path, policy, algos, hooks);
    } catch (e) {
      lastErr = e;
      if (e instanceof PinMismatch) {
        seen.push({ type: e.keyType, fp: e.got });
        continue;
      }
      if (attempt && e instanceof NoCommonHostKey) continue;
      throw e;
    }
  }
  if (seen.length) {
    throw new HostKeyMismatchError(`${target.name} (${target.address}:${target.port})`, policy.fingerprint, seen.map((s) => `${s.fp} (${s.type})`).join(', '));
  }
  throw lastErr;
}

/** Why a connection attempt failed, as the error to throw. */
function connectError(target: SshTarget, keyPath: string, err: Error & { level?: string; code?: string }, serverHostKey: string[] | undefined): Error {
  const who = `${target.name} (${target.address}:${target.port})`;
  if (err.level === 'client-authentication') {
    return new SshAuthError(target.name, `${target.name} refused key ${keyPath} for user ${target.user} (${target.address}:${target.port})`);
  }
  if (err.level === 'client-timeout') {
    return new HostUnreachableError(target.name, `cannot connect to ${who}: no SSH handshake within ${target.connectTimeoutMs} ms`);
  }
  if (/no matching.*host key|handshake failed: no matching/i.test(err.message) && serverHostKey) {
    return new NoCommonHostKey(`${who}: server offers none of ${serverHostKey.join(', ')}`);
  }
  const code = err.code ? `${err.code}` : err.message;
  if (err.code && /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EHOSTDOWN)$/.test(err.code)) {
    return new HostUnreachableError(target.name, `cannot connect to ${who}: ${code}`);
  }
  return new Error(`cannot connect to ${who}: ${code}${err.code && err.message && !err.message.includes(err.code) ? ` (${err.message})` : ''}`);
}

function handshake(
  target: SshTarget,
  privateKey: Buffer,
  keyPath: string,
  policy: HostKeyPolicy,
  serverHostKey: string[] | undefined,
  hooks: ConnHooks,
): Promise<Conn> {
  const who = `${target.name} (${target.address}:${target.port})`;
  return new Promise<Conn>((resolve, reject) => {
    const client = new Client();
    let rejection: Error | undefined;
    let ready = false;
    const hostVerifier = (key: Buffer): boolean => {
      rejection = verifyHostKey(policy, key, target);
      return rejection === undefined;
    };
    const cfg: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.user,
      privateKey,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      agentForward: false,
      tryKeyboard: false,
      hostVerifier,
      ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> } } : {}),
    };
    let resolveClosed: () => void = () => undefined;
    const conn: Conn = {
      id: hooks.nextId(),
      target,
      client,
      active: 0,
      waiters: [],
      closed: false,
      closedP: new Promise<void>((r) => (resolveClosed = r)),
    };
    client.on('ready', () => {
      ready = true;
      hooks.onReady(conn);
      resolve(conn);
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (ready) return; // a live connection failing shows up as 'close' for its channels
      reject(rejection ?? connectError(target, keyPath, err, serverHostKey));
    });
    client.on('close', () => {
      conn.closed = true;
      clearTimeout(conn.idleTimer);
      hooks.onClose(conn);
      resolveClosed();
      if (!ready) reject(rejection ?? new Error(`cannot connect to ${who}: connection closed during handshake`));
    });
    client.connect(cfg);
  });
}
