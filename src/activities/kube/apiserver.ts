/** The apiserver's /readyz, asked with the plan kubeconfig's own transport (CA, client cert, token, exec plugin). */
import { httpGet } from '../../lib/http';
import { statusError, toKubeError } from '../../lib/kube';
import type { KubeContext, KubePlan } from './context';

export function apiserverActivities(ctx: KubeContext) {
  /** GET /readyz?verbose. Not ready → {ok:false}; bad credentials → KubeAuthError. */
  async function apiserverReadyz(plan: KubePlan): Promise<{ ok: boolean; body: string }> {
    const k = ctx.clients(plan);
    const url = new URL('/readyz?verbose', k.server);
    const options: { ca?: Buffer; cert?: Buffer; key?: Buffer; headers?: Record<string, string> } = {};
    await k.kc.applyToHTTPSOptions(options);
    const res = await httpGet(url, { ...options, timeoutMs: 10_000 });
    if (res.cause) {
      const mapped = toKubeError(res.cause, `GET ${url.pathname} on ${k.server}`, k);
      if (mapped.name === 'KubeAuthError') throw mapped;
      return { ok: false, body: mapped.message };
    }
    if (res.status === 401 || res.status === 403) throw statusError(res.status, res.body, `GET /readyz on ${k.server}`, k);
    return { ok: res.status === 200, body: res.body ?? '' };
  }

  return { apiserverReadyz };
}
