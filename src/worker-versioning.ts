/**
 * Worker Deployment Versioning for the worker, from the environment:
 *   CPM_WORKER_BUILD_ID     this build (e.g. the git commit); unset = an unversioned worker (development)
 *   CPM_WORKER_DEPLOYMENT   the deployment name (default "cpmigrate")
 *
 * Behaviour AUTO_UPGRADE: a migration waits days at checkpoints, so pinning it
 * to the build that started it would keep every old worker running until the
 * slowest migration ends. Instead a waiting migration moves to the current
 * build at its next workflow task. That is safe because every workflow change
 * is gated by patched() and every plan variant's recorded history replays in
 * CI (test/replay.test.ts) before a build can become current.
 */
import type { WorkerDeploymentOptions } from '@temporalio/worker';

export const DEFAULT_DEPLOYMENT = 'cpmigrate';

export function deploymentOptions(env: NodeJS.ProcessEnv = process.env): WorkerDeploymentOptions | undefined {
  const buildId = env.CPM_WORKER_BUILD_ID?.trim();
  if (!buildId) return undefined;
  return {
    useWorkerVersioning: true,
    version: { deploymentName: env.CPM_WORKER_DEPLOYMENT?.trim() || DEFAULT_DEPLOYMENT, buildId },
    defaultVersioningBehavior: 'AUTO_UPGRADE',
  };
}
