/**
 * Worker Deployment Versioning on the real dev server: a migration waiting
 * at a checkpoint on build v1 survives an upgrade to build v2 (v2 made
 * current, v1 shut down) and completes on v2 (AUTO_UPGRADE).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_TYPE, approveUpdate, statusQuery, workflowIdFor } from '../src/shared';
import { deploymentOptions } from '../src/worker-versioning';
import { testPlan, uniqueCluster } from './support/plans';
import { recordingActivities } from './support/recording-activities';
import { temporalBinary, workflowTestEnv } from './support/temporal';
import { sleep } from '../src/lib/sleep';

const run = promisify(execFile);
const env = workflowTestEnv();

async function setCurrent(deployment: string, buildId: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 60; i++) {
    try {
      await run(temporalBinary(), [
        'worker',
        'deployment',
        'set-current-version',
        '--address',
        env.server.address,
        '--deployment-name',
        deployment,
        '--build-id',
        buildId,
        '--yes',
      ]);
      return;
    } catch (e) {
      last = String((e as { stderr?: string }).stderr ?? e);
      await sleep(500); // the version appears once its worker has polled
    }
  }
  throw new Error(`set-current-version ${buildId}: ${last}`);
}

describe('worker upgrade while a migration waits', () => {
  it('a migration waiting at a checkpoint on build v1 completes on build v2', async () => {
    const deployment = `cpmigrate-test-${Date.now()}`;
    const taskQueue = `cpmigrate-versioning-${Date.now()}`;
    const plan = testPlan({ cluster: uniqueCluster('upgrade'), gates: ['switch-traffic'] });
    const v1 = recordingActivities();
    const v2 = recordingActivities();
    const worker = (acts: typeof v1, buildId: string) =>
      Worker.create({
        connection: env.connection,
        taskQueue,
        workflowBundle: env.bundle,
        activities: acts.activities,
        workerDeploymentOptions: deploymentOptions({ CPM_WORKER_BUILD_ID: buildId, CPM_WORKER_DEPLOYMENT: deployment }),
      });
    expect(deploymentOptions({})).toBeUndefined(); // unversioned unless a build id is given

    const w1 = await worker(v1, 'v1');
    const r1 = w1.run();
    await setCurrent(deployment, 'v1');
    const handle = await env.client.workflow.start(WORKFLOW_TYPE, { taskQueue, workflowId: workflowIdFor(plan.cluster), args: [{ plan }] });
    for (let i = 0; i < 200 && (await handle.query(statusQuery)).pendingCheckpoint?.gate !== 'switch-traffic'; i++) await sleep(150);
    expect((await handle.query(statusQuery)).pendingCheckpoint?.gate).toBe('switch-traffic');
    expect(v1.calls.some((c) => c.name === 'configureKeepalived')).toBe(false);

    // the upgrade: start v2, make it current, stop v1
    const w2 = await worker(v2, 'v2');
    const r2 = w2.run();
    await setCurrent(deployment, 'v2');
    w1.shutdown();
    await r1;

    await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'tester' }] });
    await handle.result();
    w2.shutdown();
    await r2;

    // everything after the approval ran on v2
    expect(v2.calls.map((c) => c.name)).toContain('configureKeepalived');
    expect(v1.calls.map((c) => c.name)).not.toContain('configureKeepalived');
    const desc = await handle.describe();
    const info = desc.raw.workflowExecutionInfo?.versioningInfo;
    expect(info?.deploymentVersion?.buildId ?? info?.version).toMatch(/v2/);
    expect(String(info?.behavior)).toMatch(/AUTO_UPGRADE|2/);
  }, 180_000);
});
