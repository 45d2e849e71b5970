/**
 * SSH activities: run a command on a host of the plan, and check that every
 * master is reachable with a verified host key (used by preflight).
 */
import { PlanMismatchError } from '../errors';
import type { HostOps } from '../lib/hostops';
import { allMasters, sshTargetOf, type Side } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import { activityLog, beat } from './heartbeat';
import type { CommandResult } from './types';

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

/** A master or worker node of the plan, by name; PlanMismatchError if absent. */
export function planHost(plan: Plan, hostName: string): Pick<Host, 'name' | 'address' | 'ssh'> {
  const h = [...plan.oldMasters, ...plan.newMasters, ...plan.workerNodes].find((x) => x.name === hostName);
  if (!h) {
    throw new PlanMismatchError(
      `host "${hostName}" is not in the plan (old: ${plan.oldMasters.map((x) => x.name).join(', ')}; new: ${plan.newMasters.map((x) => x.name).join(', ')})`,
    );
  }
  return h;
}

export function createSshActivities(deps: SshActivityDeps) {
  return {
    /** Run one command on a host; non-zero exit throws RemoteCommandError (retryable). */
    async runOnHost(plan: Plan, hostName: string, command: string, timeoutMs?: number): Promise<CommandResult> {
      const target = sshTargetOf(plan, planHost(plan, hostName));
      return deps.hostOps().run(target, command, timeoutMs !== undefined ? { timeoutMs } : {});
    },

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
