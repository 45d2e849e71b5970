/**
 * SSH activities: check that every master is reachable with a verified host
 * key (used by preflight). There is deliberately no "run this command on a
 * host" activity: nothing on the task queue takes a shell command.
 */
import type { HostOps } from '../lib/hostops';
import { allMasters, sshTargetOf, type Side } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { activityLog, beat } from '../lib/heartbeat';

export interface SshActivityDeps {
  hostOps: () => HostOps;
}

export interface SshAccessResult {
  host: string;
  address: string;
  side: Side;
  ok: boolean;
  /** error type name (HostKeyMismatchError, SshAuthError, Error, ...) when not ok */
  errorType?: string;
  error?: string;
  /** connect (if needed) + `true` round trip */
  latencyMs: number;
}

export function createSshActivities(deps: SshActivityDeps) {
  return {
    /** Connect to every old and new master, verify its host key, run `true`. Never throws per host. */
    async checkSshAccess(plan: Plan): Promise<SshAccessResult[]> {
      const ops = deps.hostOps();
      const log = activityLog();
      const results = await Promise.all(
        allMasters(plan).map(async (h): Promise<SshAccessResult> => {
          const target = sshTargetOf(plan, h);
          const t0 = Date.now();
          try {
            await ops.run(target, 'true', { timeoutMs: target.connectTimeoutMs + 5_000 });
            return { host: h.name, address: h.address, side: h.side, ok: true, latencyMs: Date.now() - t0 };
          } catch (e) {
            const err = e instanceof Error ? e : new Error(String(e));
            return { host: h.name, address: h.address, side: h.side, ok: false, errorType: err.name, error: err.message, latencyMs: Date.now() - t0 };
          } finally {
            beat({ checked: h.name });
          }
        }),
      );
      const bad = results.filter((r) => !r.ok);
      log.info('ssh access checked', { ok: results.length - bad.length, failed: bad.map((r) => r.host) });
      return results;
    },
  };
}

export type SshActivities = ReturnType<typeof createSshActivities>;
