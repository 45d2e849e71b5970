/** API failures as errors that name the object and the API reason (KubeAuthError for 401/403 and TLS trust). */
import { ApiException } from '@kubernetes/client-node';
import { KubeAuthError } from '../../errors';
import type { KubeClients } from './client';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/**
 * Thrown when an API call fails with anything but an auth error. Retryable:
 * the message names the operation, the object and the API's reason.
 */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly operation: string,
    readonly code: number | undefined,
    readonly reason: string | undefined,
    readonly apiMessage: string,
    readonly causes: readonly StatusCause[] = [],
  ) {
    super(`${operation}: ${code ?? 'no response'}${reason ? ` ${reason}` : ''}: ${apiMessage}`);
  }
}

const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function parseStatusBody(body: unknown): { reason?: string; message?: string; causes: StatusCause[] } {
  let obj: unknown = body;
  if (typeof body === 'string') {
    try {
      obj = JSON.parse(body);
    } catch {
      return { message: body.trim() || undefined, causes: [] };
    }
  }
  if (!obj || typeof obj !== 'object') return { causes: [] };
  const o = obj as { reason?: unknown; message?: unknown; details?: { causes?: unknown } };
  const causes = Array.isArray(o.details?.causes) ? (o.details.causes as StatusCause[]) : [];
  return {
    reason: typeof o.reason === 'string' ? o.reason : undefined,
    message: typeof o.message === 'string' ? o.message : undefined,
    causes,
  };
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 429: 'TooManyRequests' };

/** The error for an HTTP error status from the API server (body: a Status object, JSON text or parsed). */
export function statusError(code: number, body: unknown, operation: string, k: Pick<KubeClients, 'server' | 'source'>): Error {
  const st = parseStatusBody(body);
  const reason = st.reason ?? STATUS_TEXT[code];
  const message = st.message ?? (code === 401 ? 'the server did not accept the credentials' : 'no message');
  if (code === 401) {
    return new KubeAuthError(
      `${operation}: 401 Unauthorized from ${k.server}: the API server did not accept the credentials in ${k.source}; ` +
        `check that its client certificate/token is valid and signed by this cluster's CA (plan.kubeconfig)`,
    );
  }
  if (code === 403) {
    return new KubeAuthError(
      `${operation}: 403 Forbidden from ${k.server}: ${message}; the user in ${k.source} lacks permission ` +
        `(cpmigrate needs cluster-admin, e.g. a client certificate in group system:masters)`,
    );
  }
  return new KubeApiError(operation, code, reason, message, st.causes);
}

/**
 * Map any failure of an API call to a named error. 401/403 and TLS trust
 * failures become KubeAuthError (non-retryable: the kubeconfig must be fixed).
 */
export function toKubeError(err: unknown, operation: string, k: Pick<KubeClients, 'server' | 'source'>): Error {
  if (err instanceof KubeApiError || err instanceof KubeAuthError) return err;
  if (err instanceof ApiException) return statusError(err.code, err.body, operation, k);
  const e = err as { code?: string; message?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  const text = e?.message ?? String(err);
  if (code && TLS_TRUST_CODES.has(code)) {
    return new KubeAuthError(
      `${operation}: TLS to ${k.server} failed (${code}): ${text}; the certificate-authority data in ${k.source} ` +
        `does not match the API server's certificate (or the server address is not in its SANs)`,
    );
  }
  return new KubeApiError(operation, undefined, code, text);
}

/** Run one API call; failures become KubeAuthError or KubeApiError naming `operation`. */
export async function kubeCall<T>(k: Pick<KubeClients, 'server' | 'source'>, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toKubeError(err, operation, k);
  }
}

export function apiCode(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (err instanceof ApiException) return err.code;
  return undefined;
}

export const isNotFound = (err: unknown): boolean => apiCode(err) === 404;
export const isConflict = (err: unknown): boolean => apiCode(err) === 409;
