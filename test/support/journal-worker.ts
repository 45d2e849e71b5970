/**
 * A worker PROCESS for durability tests: the real workflow code with the
 * recording activity doubles, journaling every activity start/finish to
 * $CPM_JOURNAL. $CPM_SLOW_CALL="name:arg" makes that call wait (heartbeating)
 * until the file $CPM_RELEASE exists, so a test can kill -9 this process
 * while the activity is in flight.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { TASK_QUEUE } from '../../src/shared';
import { recordingActivities } from './recording-activities';
import { livenessInterceptor } from '../../src/activities/liveness';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const journal = process.env.CPM_JOURNAL;
  if (!journal) throw new Error('CPM_JOURNAL not set');
  const slow = process.env.CPM_SLOW_CALL;
  const release = process.env.CPM_RELEASE ?? '/nonexistent';
  const { activities } = recordingActivities({
    journal,
    before: async (c) => {
      if (!slow || `${c.name}:${String(c.args[0])}` !== slow) return;
      for (let i = 0; i < 1200 && !existsSync(release); i++) {
        Context.current().heartbeat({ waiting: slow });
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    interceptors: { activity: [livenessInterceptor] },
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: path.join(__dirname, '..', '..', 'src', 'workflows', 'index.ts'),
    activities,
    stickyQueueScheduleToStartTimeout: '2s',
  });
  process.stdout.write('worker ready\n');
  await worker.run();
  await connection.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`journal-worker: ${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
