/**
 * Lab migrations measured end to end (as root, under the lab lock: run it as
 * `flock /tmp/cpmigrate-lab.lock npm run bench -- lab`): each run is the demo
 * (src/demo/run.ts: the lab rebuilt in its "before" state, one worker, every
 * checkpoint approved at once) with the safety monitor's 20 ms probe through
 * the VIP. Afterwards the run's event history and worker log give the
 * orchestration overhead, the critical path per step and the API gaps by cause.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { freeLoopbackPort, stopTemporal } from '../chaos/temporal';
import { runDemo } from '../demo/run';
import { summarizeAvailability, type AvailabilitySummary } from './availability';
import { criticalPath, parseActivityLines, type StepPath } from './critical-path';
import { activitySpans, orchestrationOverhead, stepSpans, timeline, type JsonHistory, type OverheadReport } from './history';
import { loadAverage } from './stats';

export interface LabRun {
  run: number;
  loadBefore: string;
  loadAfter: string;
  outcome: string;
  error?: string;
  migrationMs: number;
  overhead: OverheadReport;
  steps: StepPath[];
  availability: AvailabilitySummary;
  probe: { sent: number; failedReads: number; failedWrites: number; failedReadsAfterRetry: number; failedWritesAfterRetry: number; missingAfter: number };
  leaderChanges: number;
  vipNoHolderMaxMs: number;
  violations: string[];
  stateDir: string;
}

export async function runLabMigration(run: number, log: (l: string) => void): Promise<LabRun> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `cpm-bench-lab-${run}-`));
  const temporalPort = await freeLoopbackPort();
  const loadBefore = loadAverage();
  try {
    const demo = await runDemo({ yes: true, temporalPort, stateDir, monitor: true, maxMinutes: 30, log: (l) => log(`run ${run}: ${l}`) });
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    let history: JsonHistory;
    try {
      const client = new Client({ connection, namespace: 'default' });
      history = JSON.parse(historyToJSON(await client.workflow.getHandle(demo.workflowId, demo.runId).fetchHistory())) as JsonHistory;
    } finally {
      await connection.close();
    }
    writeFileSync(path.join(stateDir, 'history.json'), JSON.stringify(history));
    const logs = readdirSync(stateDir)
      .filter((f) => /^worker-\d+\.log$/.test(f))
      .map((f) => readFileSync(path.join(stateDir, f), 'utf8'))
      .join('\n');
    const lines = parseActivityLines(logs).filter((l) => !l.workflowId || l.workflowId === demo.workflowId);
    const m = demo.monitor;
    const p = demo.probe;
    return {
      run,
      loadBefore,
      loadAfter: loadAverage(),
      outcome: demo.outcome,
      ...(demo.error ? { error: demo.error } : {}),
      migrationMs: demo.migrationMs,
      overhead: orchestrationOverhead(history),
      steps: criticalPath(stepSpans(history), timeline(history), lines),
      availability: summarizeAvailability(p.gaps ?? [], p.longestGapMs, {
        vipEvents: m?.vip.events ?? [],
        leaderChanges: m?.leaderChanges ?? [],
        activities: activitySpans(history),
      }),
      probe: {
        sent: p.sent,
        failedReads: p.failedReads,
        failedWrites: p.failedWrites,
        failedReadsAfterRetry: p.failedReadsAfterRetry,
        failedWritesAfterRetry: p.failedWritesAfterRetry,
        missingAfter: p.missingAfter.length,
      },
      leaderChanges: Math.max(0, (m?.leaders.length ?? 1) - 1),
      vipNoHolderMaxMs: m?.vip.maxGapMs ?? 0,
      violations: m?.violations ?? [],
      stateDir,
    };
  } finally {
    await stopTemporal(temporalPort, stateDir);
  }
}
