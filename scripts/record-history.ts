/**
 * Record a complete migration history (recording activity doubles, all
 * checkpoints approved, one pause/resume) into test/histories/NAME.json.
 * test/replay.test.ts replays every recorded history against the current
 * workflow code: a change that would break a migration waiting at a
 * checkpoint during a worker upgrade fails there. Record a new history when
 * the workflow changes (keeping the old ones), using patched() for changes.
 *   node --import tsx scripts/record-history.ts NAME
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { TASK_QUEUE, WORKFLOW_TYPE, approveUpdate, pauseSignal, resumeSignal, statusQuery, workflowIdFor } from '../src/shared';
import { recordingActivities } from '../test/support/recording-activities';
import { testPlan } from '../test/support/plans';
import { startDevServer, temporalBinary } from '../test/support/temporal';
import { livenessInterceptor } from '../src/activities/liveness';

async function main(name: string): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer();
  try {
    const client = await server.client();
    const connection = await NativeConnection.connect({ address: server.address });
    const { activities } = recordingActivities();
    const worker = await Worker.create({ interceptors: { activity: [livenessInterceptor] }, connection, taskQueue: TASK_QUEUE, workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'), activities });
    const plan = testPlan({ cluster: 'recorded', gates: ['preflight-ack', 'switch-traffic', 'decommission'] });
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
      for (const gate of ['preflight-ack', 'switch-traffic', 'decommission'] as const) {
        for (let i = 0; i < 200 && (await handle.query(statusQuery)).pendingCheckpoint?.gate !== gate; i++) await new Promise((r) => setTimeout(r, 100));
        if (gate === 'switch-traffic') {
          await handle.signal(pauseSignal, { by: 'recorder' });
          await handle.signal(resumeSignal, { by: 'recorder' });
        }
        await handle.executeUpdate(approveUpdate, { args: [{ gate, by: 'recorder', reason: 'recorded history' }] });
      }
      await handle.result();
      // the temporal CLI writes the canonical proto-JSON that historyFromJSON reads
      const json = execFileSync(temporalBinary(), ['workflow', 'show', '--address', server.address, '--workflow-id', handle.workflowId, '--output', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const file = path.join(__dirname, '..', 'test', 'histories', `${name}.json`);
      writeFileSync(file, json);
      process.stdout.write(`recorded ${(JSON.parse(json) as { events: unknown[] }).events.length} events to ${file}\n`);
    });
    await connection.close();
  } finally {
    await server.stop();
  }
}

main(process.argv[2] ?? 'v1').catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
