/**
 * The cpmigrate worker: runs the migration workflow and its activities on
 * task queue `cpmigrate`. Configured from the environment (see
 * src/temporal-config.ts). Logs are JSON lines through the SDK's logger, so
 * replayed workflow code does not log twice.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString, type LogEntry } from '@temporalio/worker';
import { createActivities } from './activities';
import { livenessInterceptor } from './activities/liveness';
import { activePolicy } from './lib/policy';
import { sshHostOps } from './lib/ssh';
import { TASK_QUEUE } from './shared';
import { temporalSettings } from './temporal-config';
import { deploymentOptions } from './worker-versioning';
import { workerTuning } from './worker-tuning';
import { workflowCodeOption } from './workflow-bundle';

function jsonLogger(): DefaultLogger {
  const level = (process.env.CPM_LOG_LEVEL?.toUpperCase() as 'INFO' | 'DEBUG' | 'WARN' | undefined) ?? 'INFO';
  return new DefaultLogger(level, (entry: LogEntry) => {
    const { message, level: lvl, meta } = entry;
    process.stdout.write(
      `${JSON.stringify({ ts: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(), level: lvl.toLowerCase(), msg: message, ...meta })}\n`,
    );
  });
}

export async function runWorker(): Promise<void> {
  const settings = temporalSettings();
  Runtime.install({
    logger: jsonLogger(),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
  const connection = await NativeConnection.connect({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
  }).catch((err: unknown) => {
    throw new Error(
      `cannot reach Temporal at ${settings.address} (namespace ${settings.namespace}): ${(err as Error).message}\n  hint: start it with \`npm run dev\` or set TEMPORAL_ADDRESS`,
    );
  });
  const policy = activePolicy(); // a bad policy file stops the worker here
  const activities = createActivities();
  const deployment = deploymentOptions();
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: TASK_QUEUE,
    ...workflowCodeOption(),
    activities,
    interceptors: { activity: [livenessInterceptor] },
    shutdownGraceTime: '10s',
    workerDeploymentOptions: deployment,
    // every running migration holds one activity slot for its lock keeper (src/worker-tuning.ts)
    ...workerTuning(),
  });
  process.stdout.write(
    `${JSON.stringify({ level: 'info', msg: 'worker started', address: settings.address, namespace: settings.namespace, taskQueue: TASK_QUEUE, pid: process.pid, deployment: deployment ? `${deployment.version.deploymentName}/${deployment.version.buildId} (${deployment.defaultVersioningBehavior})` : 'unversioned' })}\n`,
  );
  process.stdout.write(
    `${JSON.stringify(
      policy
        ? {
            level: 'info',
            msg: 'worker policy',
            file: process.env.CPM_WORKER_POLICY,
            clusters: policy.clusters,
            hostCIDRs: policy.hostCIDRs,
            apiServerAddresses: policy.apiServerAddresses,
            allowCommandServices: policy.allowCommandServices,
          }
        : { level: 'warn', msg: 'no worker policy (CPM_WORKER_POLICY unset): any cluster, host, key and command a plan names is allowed' },
    )}\n`,
  );
  try {
    await worker.run();
  } finally {
    await sshHostOps().close();
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    process.stderr.write(`cpmigrate worker: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
