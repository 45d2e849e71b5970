/** Who holds the VIP right now, asked on every reachable master (`ip -4 -o addr show`). Read-only. */
import type { HostOps } from '../lib/hostops';
import { reachableMasters, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';

/** Hosts holding the VIP now; hosts that could not be asked are listed apart (`unknown`). */
export async function vipHolders(plan: Plan, ops: HostOps): Promise<{ holders: string[]; unknown: string[] }> {
  const rows = await Promise.all(
    // a failed (dead) master is not asked: it cannot answer, and it holds nothing
    reachableMasters(plan).map(async (h) => {
      try {
        const r = await ops.run(sshTargetOf(plan, h), 'ip -4 -o addr show', { allowFailure: true, timeoutMs: 15_000 });
        return { name: h.name, holds: r.exitCode === 0 ? r.stdout.split('\n').some((l) => l.includes(` ${plan.loadBalancer.vip}/`)) : undefined };
      } catch {
        return { name: h.name, holds: undefined };
      }
    }),
  );
  return { holders: rows.filter((r) => r.holds).map((r) => r.name), unknown: rows.filter((r) => r.holds === undefined).map((r) => r.name) };
}
