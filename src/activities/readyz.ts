/**
 * HTTPS health probes of apiservers from the worker: GET /readyz with the
 * cluster CA trusted (server identity checked, so a cert without the right SAN
 * fails here, as it would for clients), anonymous first (allowed by the default
 * system:public-info-viewer role), then with the plan kubeconfig's credentials
 * if the apiserver answers 401/403.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { expandHome } from '../lib/paths';
import { parse } from 'yaml';
import { checkApiServer, enforce } from '../lib/policy';

export interface ClientAuth {
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  ca?: Buffer;
}

export interface ProbeResult {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

const expand = expandHome;

async function dataOrFile(data: unknown, file: unknown): Promise<Buffer | undefined> {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file) return readFile(expand(file));
  return undefined;
}

interface Named<T> {
  name?: string;
  [k: string]: T | string | undefined;
}

/** Credentials of the current context of a kubeconfig file on the worker. */
export async function clientAuthFromKubeconfig(path: string): Promise<ClientAuth> {
  const doc = parse(await readFile(expand(path), 'utf8')) as {
    'current-context'?: string;
    contexts?: Named<{ cluster?: string; user?: string }>[];
    clusters?: Named<Record<string, string>>[];
    users?: Named<Record<string, string>>[];
  };
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context'])?.context as { cluster?: string; user?: string } | undefined;
  const cluster = (doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster ?? {}) as Record<string, string>;
  const user = (doc.users?.find((u) => u.name === ctx?.user)?.user ?? {}) as Record<string, string>;
  return {
    ca: await dataOrFile(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: await dataOrFile(user['client-certificate-data'], user['client-certificate']),
    key: await dataOrFile(user['client-key-data'], user['client-key']),
    token: user.token,
  };
}

export function httpsGet(url: string, opts: { ca?: Buffer | string; auth?: ClientAuth; timeoutMs?: number }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { accept: 'text/plain' };
    if (opts.auth?.token) headers.authorization = `Bearer ${opts.auth.token}`;
    const req = request(
      url,
      { method: 'GET', ca: opts.ca, cert: opts.auth?.cert, key: opts.auth?.key, headers, agent: false, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body.length < 4096 ? (body += c) : undefined));
        res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body: body.trim() }));
        res.on('error', (e) => resolve({ ok: false, error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 5_000} ms`)));
    req.on('error', (e) => resolve({ ok: false, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim() }));
    req.end();
  });
}

/** GET https://HOSTPORT/readyz trusting `ca`; retries with `auth()` credentials on 401/403. */
export async function probeReadyz(hostPort: string, ca: Buffer | string, auth?: () => Promise<ClientAuth>, timeoutMs = 5_000): Promise<ProbeResult> {
  const url = `https://${hostPort}/readyz`;
  const anon = await httpsGet(url, { ca, timeoutMs });
  if ((anon.status === 401 || anon.status === 403) && auth) {
    enforce((p) => checkApiServer(p, url, 'readyz probe with the kubeconfig credentials to')); // the worker policy
    return httpsGet(url, { ca, auth: await auth(), timeoutMs });
  }
  return anon;
}

/** One line for errors and summaries. */
export function describeProbe(r: ProbeResult): string {
  if (r.ok) return 'ok';
  if (r.error) return r.error;
  return `HTTP ${r.status ?? '?'}${r.body ? `: ${r.body.split('\n').filter((l) => l.includes('failed')).slice(0, 3).join('; ') || r.body.slice(0, 200)}` : ''}`;
}
