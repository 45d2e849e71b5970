/**
 * The fleet benchmark's worker process: the real migration workflow code and
 * the production worker's options (src/worker-tuning.ts, the liveness
 * interceptor), with the recording activity doubles instead of SSH, etcd and
 * the API. Prints one JSON line {"bench":"ready","pid"} once polling, then runs
 * until SIGTERM. Env: CPM_BENCH_ADDRESS, CPM_BENCH_ACTIVITY_MS (each double's
 * duration, default 0).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { livenessInterceptor } from '../activities/liveness';
import { TASK_QUEUE } from '../shared';
import { workerTuning } from '../worker-tuning';
import { recordingActivities } from './recording-activities';

async function main(): Promise<void> {
  const address = process.env.CPM_BENCH_ADDRESS;
  if (!address) throw new Error('CPM_BENCH_ADDRESS is not set');
  const activityMs = Number(process.env.CPM_BENCH_ACTIVITY_MS ?? '0');
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  const connection = await NativeConnection.connect({ address });
  const { activities } = recordingActivities(activityMs > 0 ? { before: () => sleep(activityMs) } : {});
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: TASK_QUEUE,
    workflowsPath: path.join(__dirname, '..', 'workflows', 'index.ts'),
    activities,
    interceptors: { activity: [livenessInterceptor] },
    shutdownGraceTime: '2s',
    ...workerTuning(),
  });
  process.on('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write(`${JSON.stringify({ bench: 'ready', pid: process.pid, ...workerTuning() })}\n`);
  await running;
  await connection.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
