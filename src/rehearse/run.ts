/**
 * `cpmigrate rehearse PLAN.yaml [--from-live]`: the whole migration, unattended,
 * on a lab of the plan's shape (src/rehearse/shape.ts), with the safety
 * monitor and the 20 ms probe, judged like every lab run (after-state checks,
 * 50 objects written before, quorum margin ≥ 0, one VIP holder, no secret in
 * history, no failed probe request). Needs root and a source checkout (the
 * lab); the plan's own hosts are only contacted with --from-live, read-only.
 */
import { runScenario } from '../chaos/cli';
import { labDown } from '../lab/cli';
import { sshHostOps } from '../lib/ssh';
import { describeFailures, describeGap, failuresAfterRetry } from '../demo/probe';
import { formatMs } from '../plan/duration';
import { loadPlan } from '../plan/load';
import { readLiveTuning } from './live';
import { rehearsalOf, type Rehearsal } from './shape';

export interface RehearseOptions {
  fromLive: boolean;
  maxMinutes: number;
  /** build and report the mapping only */
  dryRun: boolean;
  log: (line: string) => void;
}

export interface RehearseResult {
  ok: boolean;
  rehearsal: Rehearsal;
  problems: string[];
}

export function describeRehearsal(r: Rehearsal, file: string): string {
  const p = r.projection;
  return [
    `rehearsal of ${file}: ${r.shape.old} → ${r.shape.new}, strategy ${p.strategy} (${p.strategyWhy}); peak ${p.peak} etcd members, worst step tolerates ${p.worstTolerates} failure(s)`,
    ...r.hosts.map((h) => `  ${h.plan.padEnd(24)} → lab ${h.lab} (${h.role})`),
    ...r.notes.map((n) => `  note: ${n}`),
    ...(r.shape.etcdTuning ? [`  etcd tuning of the lab's old members: ${r.shape.etcdTuning.join(', ') || 'etcd defaults'}`] : []),
  ].join('\n');
}

export async function rehearse(file: string, o: RehearseOptions): Promise<RehearseResult> {
  const plan = await loadPlan(file);
  const rehearsal = rehearsalOf(plan);
  if (rehearsal.problems.length) return { ok: false, rehearsal, problems: rehearsal.problems };
  if (o.fromLive) {
    const ops = sshHostOps();
    try {
      const live = await readLiveTuning(ops, plan);
      rehearsal.shape.etcdTuning = live.tuning;
      rehearsal.notes.push(
        `etcd settings read from ${live.from} (read-only)${live.notReproduced.length ? `; not reproduced on the lab: ${live.notReproduced.join(', ')}` : ''}`,
      );
    } finally {
      await ops.close();
    }
  }
  o.log(describeRehearsal(rehearsal, file));
  if (o.dryRun) return { ok: true, rehearsal, problems: [] };
  if (process.getuid?.() !== 0) return { ok: false, rehearsal, problems: ['the rehearsal builds the lab (network namespaces, sshd, etcd): run it as root'] };
  const t0 = Date.now();
  try {
    const { assessment, report, demo } = await runScenario({ name: 'rehearsal', what: `rehearsal of ${file}`, shape: rehearsal.shape }, o.log, o.maxMinutes);
    o.log(report);
    const problems = [...assessment.problems, ...failuresAfterRetry(demo.probe)];
    o.log(
      `rehearsal ${problems.length ? 'FAILED' : 'passed'} in ${formatMs(Date.now() - t0)}: migration ${formatMs(assessment.migrationMs)}, ${describeGap(demo.probe)}, ` +
        `${describeFailures(demo.probe)}, min quorum margin ${assessment.minQuorumMargin ?? '–'}`,
    );
    return { ok: problems.length === 0, rehearsal, problems };
  } finally {
    await labDown();
  }
}
