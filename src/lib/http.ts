/** The one HTTP(S) GET of the worker: health probes (/readyz, /health). Never throws: a transport failure is `{ ok: false, error, cause }`. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface HttpGetResult {
  /** status 200 */
  ok: boolean;
  status?: number;
  body?: string;
  /** why there is no status (transport: refused, TLS, timeout) */
  error?: string;
  /** the transport error itself, for callers that classify it */
  cause?: Error;
}

export interface HttpGetOptions extends Pick<
  RequestOptions,
  'ca' | 'cert' | 'key' | 'headers' | 'agent' | 'rejectUnauthorized' | 'servername' | 'checkServerIdentity'
> {
  /** no answer within this long = an error (default 5 s) */
  timeoutMs?: number;
  /** keep at most this many characters of the body (default: all) */
  maxBodyChars?: number;
}

export function httpGet(url: string | URL, opts: HttpGetOptions = {}): Promise<HttpGetResult> {
  const { timeoutMs = 5_000, maxBodyChars = Infinity, ...tls } = opts;
  const u = typeof url === 'string' ? new URL(url) : url;
  const send = u.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve) => {
    const req = send(u, { method: 'GET', timeout: timeoutMs, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < maxBodyChars ? (body += c) : undefined));
      res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body }));
      res.on('error', (e) => resolve({ ok: false, error: e.message, cause: e }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim(), cause: e }));
    req.end();
  });
}
