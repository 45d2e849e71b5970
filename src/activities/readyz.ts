/**
 * HTTPS health probes of apiservers from the worker: GET /readyz with the
 * cluster CA trusted (server identity checked, so a cert without the right SAN
 * fails here, as it would for clients), anonymous first (allowed by the default
 * system:public-info-viewer role), then with the plan kubeconfig's credentials
 * if the apiserver answers 401/403.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { httpGet, type HttpGetResult } from '../lib/http';
import { expandHome } from '../lib/paths';
import { checkApiServer, enforce } from '../lib/policy';

export interface ClientAuth {
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  ca?: Buffer;
}

export type ProbeResult = Omit<HttpGetResult, 'cause'>;

/**
 * Credentials of the current context of a kubeconfig file on the worker, as
 * @kubernetes/client-node loads them: inline data or files, a token or token
 * file, an exec credential plugin.
 */
export async function clientAuthFromKubeconfig(path: string): Promise<ClientAuth> {
  const kc = new KubeConfig();
  kc.loadFromFile(expandHome(path));
  const opts: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  const buf = (v: Buffer | string | undefined) => (v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));
  const bearer = /^Bearer (.+)$/.exec(opts.headers?.Authorization ?? opts.headers?.authorization ?? '')?.[1];
  return { ca: buf(opts.ca), cert: buf(opts.cert), key: buf(opts.key), ...(bearer ? { token: bearer } : {}) };
}

export async function httpsGet(url: string, opts: { ca?: Buffer | string; auth?: ClientAuth; timeoutMs?: number; servername?: string }): Promise<ProbeResult> {
  const headers: Record<string, string> = { accept: 'text/plain' };
  if (opts.auth?.token) headers.authorization = `Bearer ${opts.auth.token}`;
  const { cause: _cause, ...r } = await httpGet(url, {
    ca: opts.ca,
    cert: opts.auth?.cert,
    key: opts.auth?.key,
    headers,
    agent: false,
    // the certificate checked for that name (not sent as SNI: it may be an IP address, which SNI cannot carry)
    ...(opts.servername ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(opts.servername as string, cert) } : {}),
    timeoutMs: opts.timeoutMs ?? 5_000,
    maxBodyChars: 4096,
  });
  return r.body === undefined ? r : { ...r, body: r.body.trim() };
}

/**
 * GET https://HOSTPORT/readyz trusting `ca`; retries with `auth()` credentials on 401/403.
 * `servername`: the name the served certificate must be valid for, when it is not HOSTPORT's host.
 */
export async function probeReadyz(
  hostPort: string,
  ca: Buffer | string,
  auth?: () => Promise<ClientAuth>,
  timeoutMs = 5_000,
  servername?: string,
): Promise<ProbeResult> {
  const url = `https://${hostPort}/readyz`;
  const anon = await httpsGet(url, { ca, timeoutMs, ...(servername ? { servername } : {}) });
  if ((anon.status === 401 || anon.status === 403) && auth) {
    enforce((p) => checkApiServer(p, url, 'readyz probe with the kubeconfig credentials to')); // the worker policy
    return httpsGet(url, { ca, auth: await auth(), timeoutMs, ...(servername ? { servername } : {}) });
  }
  return anon;
}

/** One line for errors and summaries. */
export function describeProbe(r: ProbeResult): string {
  if (r.ok) return 'ok';
  if (r.error) return r.error;
  return `HTTP ${r.status ?? '?'}${
    r.body
      ? `: ${
          r.body
            .split('\n')
            .filter((l) => l.includes('failed'))
            .slice(0, 3)
            .join('; ') || r.body.slice(0, 200)
        }`
      : ''
  }`;
}
