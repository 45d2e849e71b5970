/**
 * What every fault-matrix scenario must end with, from the outside: the
 * after-state (or, for a rollback, the before-state) checks pass; the 50
 * objects written before are all there; the safety monitor saw no quorum
 * margin below 0 and no double VIP; no step ran twice and the membership
 * changes completed once each (from the event history); no secret in the
 * history; and the faults it was meant to inject really happened.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DemoReport } from '../demo/run';
import { completedActivities, secretsInHistory, secretsInLogs, secretsOf, workerLogsIn } from '../demo/history-checks';
import { addedMasters, keptMasters } from '../plan/hosts';
import { loadPlan } from '../plan/load';
import type { Scenario } from './scenarios';

export interface Assessment {
  scenario: string;
  ok: boolean;
  problems: string[];
  fired: string[];
  deaths: number;
  worstRecoveryMs?: number;
  longestGapMs: number;
  /** of the longest gap, how long the probe process itself was starved of CPU; and the longest gap while it ran */
  longestGapStarvedMs?: number;
  longestUnstarvedGapMs?: number;
  minQuorumMargin?: number;
  maxVipDoubleMs?: number;
  migrationMs: number;
  /** the worker logs scanned for secrets: files, bytes, secret strings looked for */
  logScan?: { files: number; bytes: number; secrets: number };
}

/** The failpoints that fired in a scenario's state dir, in order. */
export function firedIn(stateDir: string): string[] {
  try {
    return readFileSync(path.join(stateDir, 'fired'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return []; // none fired
  }
}

export async function assess(s: Scenario, r: DemoReport, o: { temporalPort: number; stateDir: string; planPath: string }): Promise<Assessment> {
  const problems: string[] = [];
  const rollback = s.rollbackAt !== undefined;
  if (rollback) {
    if (!/migration aborted/.test(r.error ?? '')) problems.push(`expected an aborted (rolled back) migration, got ${r.outcome}: ${r.error ?? ''}`);
    if (!/rolled back \d+ step/.test(r.error ?? '')) problems.push(`the rollback did not complete: ${r.error ?? ''}`);
  } else if (r.outcome !== 'completed') problems.push(`migration ${r.outcome}: ${r.error ?? ''}`);
  if (!r.checks.length) problems.push('no state checks ran');
  for (const c of r.checks.filter((x) => !x.ok)) problems.push(`check failed: ${c.name}: ${c.detail}`);
  if (r.probe.seeded !== 50 || r.probe.missingAfter.length)
    problems.push(`objects: ${r.probe.seeded} written before, missing after: ${r.probe.missingAfter.join(', ') || 'none'}`);
  for (const v of r.monitor?.violations ?? []) problems.push(`safety monitor: ${v}`);
  const repeated = r.steps.map((x) => x.key).filter((k, i, all) => all.indexOf(k) !== i);
  if (repeated.length) problems.push(`steps completed twice: ${repeated.join(', ')}`);
  for (const f of r.faults.filter((x) => x.error)) problems.push(`fault ${f.name} failed: ${f.error}`);
  if ((s.faults?.length ?? 0) !== r.faults.length) problems.push(`${s.faults?.length ?? 0} fault(s) planned, ${r.faults.length} injected`);

  const fired = firedIn(o.stateDir);
  const missing = (s.mustFire ?? []).filter((n) => !fired.some((f) => f === n || f.startsWith(`${n}@`)));
  if (missing.length) problems.push(`failpoints never reached: ${missing.join(', ')}`);
  if (fired.length !== r.deaths.filter((d) => d.failpoints.length).length)
    problems.push(`${fired.length} failpoints fired but ${r.deaths.length} worker deaths seen`);

  const plan = await loadPlan(o.planPath);
  let logScan: Assessment['logScan'];
  const connection = await Connection.connect({ address: `127.0.0.1:${o.temporalPort}` });
  try {
    const client = new Client({ connection });
    const done = await completedActivities(client, r.workflowId, r.runId);
    // every shape: each added master joined once; each old master that goes (decommissioned or failed) removed once; kept ones neither
    const once = [
      'etcdSnapshot',
      ...addedMasters(plan).map((h) => `etcdJoinMember ${h.name}`),
      ...(rollback ? [] : plan.oldMasters.filter((h) => !keptMasters(plan).includes(h)).map((h) => `etcdRemoveMember ${h.name}`)),
    ];
    for (const k of once) if (done.get(k) !== 1) problems.push(`${k} completed ${done.get(k) ?? 0} times (expected once)`);
    const secrets = secretsOf(
      plan,
      [plan.keepalived.authPassFile, plan.defaults.ssh.privateKeyPath, plan.etcd.tls?.keyFile].filter((x): x is string => Boolean(x)),
    );
    const leaks = await secretsInHistory(client, r.workflowId, r.runId, secrets);
    if (leaks.length) problems.push(`secrets in the workflow history: ${leaks.join(', ')}`);
    // the worker's log too (issue 14): every incarnation's file
    const logs = workerLogsIn(o.stateDir);
    const inLogs = secretsInLogs(logs, secrets);
    logScan = { files: logs.length, bytes: inLogs.bytes, secrets: secrets.length };
    if (!logs.length || inLogs.bytes === 0) problems.push(`no worker log to scan for secrets in ${o.stateDir}`);
    if (inLogs.leaks.length) problems.push(`secrets in the worker logs: ${inLogs.leaks.join(', ')}`);
  } finally {
    await connection.close();
  }
  const recoveries = r.deaths.map((d) => d.recoveryMs).filter((x): x is number => x !== undefined);
  return {
    scenario: s.name,
    ok: problems.length === 0,
    problems,
    fired,
    deaths: r.deaths.length,
    worstRecoveryMs: recoveries.length ? Math.max(...recoveries) : undefined,
    longestGapMs: r.probe.longestGapMs,
    ...(r.probe.longestGapStarvedMs ? { longestGapStarvedMs: r.probe.longestGapStarvedMs, longestUnstarvedGapMs: r.probe.longestUnstarvedGapMs } : {}),
    minQuorumMargin: r.monitor?.minQuorumMargin,
    maxVipDoubleMs: r.monitor?.vip.maxDoubleMs,
    migrationMs: r.migrationMs,
    ...(logScan ? { logScan } : {}),
  };
}
