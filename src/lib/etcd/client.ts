/** The client from the plan: TLS material, call deadlines, its own fault handling (no breaker; only transport errors move to the next endpoint). */
import { readFileSync } from 'node:fs';
import { ConstantBackoff, handleWhen, noop, retry } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import type { Plan } from '../../plan/schema';

export interface EtcdAccess {
  /** client TLS material, paths on the worker; read each time a client is made */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** deadline of every unary call, and the dial timeout */
  callTimeoutMs: number;
  maxRaftIndexLag: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

export function etcdAccess(plan: Plan, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS): EtcdAccess {
  return { tls: plan.etcd.tls, callTimeoutMs, maxRaftIndexLag: plan.etcd.maxRaftIndexLag };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What etcd answers while a membership change is refused for now; the first three are server verdicts, never moved to another endpoint. */
export const RECONFIG_RETRYABLE = [
  /unhealthy cluster/,
  /in sync with leader/,
  /not enough started members/,
  /leader changed/,
  /no leader/,
  /request timed out/,
  /too many requests/,
  /timed out waiting for read index/,
];

/** A transport-level failure worth trying on the next endpoint (not a server verdict we retry ourselves). */
function isTransportError(err: Error): boolean {
  return isRecoverableError(err) && !RECONFIG_RETRYABLE.slice(0, 3).some((re) => re.test(err.message));
}

/**
 * A client over `endpoints` (client URLs). No circuit breaker; a transport
 * error is retried once per other endpoint; every unary call has a deadline.
 */
export function createEtcdClient(access: EtcdAccess, endpoints: readonly string[]): Etcd3 {
  if (endpoints.length === 0) throw new Error('no etcd endpoints to connect to');
  const tls = access.tls;
  return new Etcd3({
    hosts: [...endpoints],
    credentials: tls ? { rootCertificate: readFileSync(tls.caFile), certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile) } : undefined,
    dialTimeout: access.callTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + access.callTimeoutMs }),
    grpcOptions: {
      // own subchannels: a reconnect backoff from an earlier probe of a dead
      // endpoint must not delay seeing it come up
      'grpc.use_local_subchannel_pool': 1,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
    faultHandling: {
      host: () => noop,
      global: endpoints.length > 1 ? retry(handleWhen(isTransportError), { maxAttempts: endpoints.length - 1, backoff: new ConstantBackoff(50) }) : noop,
    },
  });
}

/** Run `fn` with a client and always close it. */
export async function withEtcdClient<T>(access: EtcdAccess, endpoints: readonly string[], fn: (c: Etcd3) => Promise<T>): Promise<T> {
  const client = createEtcdClient(access, endpoints);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
