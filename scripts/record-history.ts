/**
 * Record complete migration histories (recording activity doubles, the
 * operator played by test/support/history-variants.ts) into
 * test/histories/PREFIX-VARIANT.json.gz. test/replay.test.ts replays every
 * recorded history against the current workflow code: a change that would
 * break a migration in flight during a worker upgrade fails there. When the
 * workflow changes, gate the change with patched() and record a new set
 * (keeping the old ones).
 *   node --import tsx scripts/record-history.ts PREFIX [VARIANT...]   # default: every variant
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { livenessInterceptor } from '../src/activities/liveness';
import { TASK_QUEUE, WORKFLOW_TYPE } from '../src/shared';
import { HISTORY_VARIANTS, type HistoryVariant } from '../test/support/history-variants';
import { recordingActivities } from '../test/support/recording-activities';
import { startDevServer, temporalBinary, type DevServer } from '../test/support/dev-server';

async function record(server: DevServer, connection: NativeConnection, prefix: string, v: HistoryVariant): Promise<void> {
  const client = await server.client();
  let failed = false;
  const { activities } = recordingActivities({
    clientFixes: v.clientFixes,
    evidence: v.evidence?.(),
    before: (call) => {
      if (!failed && v.failOnce?.(call)) {
        failed = true;
        throw ApplicationFailure.nonRetryable(`recorded failure of ${call.name}`, 'RecordedFailure');
      }
    },
  });
  const taskQueue = `${TASK_QUEUE}-record-${v.name}`;
  const worker = await Worker.create({
    interceptors: { activity: [livenessInterceptor] },
    connection,
    taskQueue,
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
    activities,
  });
  await worker.runUntil(async () => {
    const handle = await client.workflow.start(WORKFLOW_TYPE, { taskQueue, workflowId: `cpmigrate-recorded-${v.name}`, args: [v.input()] });
    await v.drive(handle);
    const outcome = await handle.result().then(
      () => 'completed',
      (e: unknown) => `failed: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`,
    );
    if ((outcome !== 'completed') !== (v.expectFailure === true)) throw new Error(`${v.name}: unexpected outcome ${outcome}`);
    // the temporal CLI writes the canonical proto-JSON that historyFromJSON reads
    const json = execFileSync(temporalBinary(), ['workflow', 'show', '--address', server.address, '--workflow-id', handle.workflowId, '--output', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const file = path.join(__dirname, '..', 'test', 'histories', `${prefix}-${v.name}.json.gz`);
    writeFileSync(file, gzipSync(json, { level: 9 }));
    process.stdout.write(`${v.name}: ${outcome}, ${(JSON.parse(json) as { events: unknown[] }).events.length} events -> ${file}\n`);
  });
}

async function main(prefix: string, names: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const chosen = names.length ? HISTORY_VARIANTS.filter((v) => names.includes(v.name)) : HISTORY_VARIANTS;
  if (chosen.length !== (names.length || HISTORY_VARIANTS.length)) throw new Error(`unknown variant; known: ${HISTORY_VARIANTS.map((v) => v.name).join(', ')}`);
  const server = await startDevServer();
  const connection = await NativeConnection.connect({ address: server.address });
  try {
    for (const v of chosen) await record(server, connection, prefix, v);
  } finally {
    await connection.close();
    await server.stop();
  }
}

const [prefix, ...names] = process.argv.slice(2);
if (!prefix) {
  process.stderr.write('usage: record-history.ts PREFIX [VARIANT...]\n');
  process.exit(2);
}
main(prefix, names).catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
