/**
 * The Temporal Web UI, driven by headless Debian Chromium (playwright-core):
 * a migration waiting at a checkpoint is found by its search attribute, and
 * its page shows the workflow's current details with the approve command.
 * Screenshots go to a temp dir, or to docs/ (used by the README) with CPM_UPDATE_SCREENSHOTS=1.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { CpmCluster } from '../src/search-attributes';
import { TASK_QUEUE, WORKFLOW_TYPE, statusQuery, workflowIdFor } from '../src/shared';
import { recordingActivities } from './support/recording-activities';
import { testPlan } from './support/plans';
import { startDevServer, type DevServer } from './support/temporal';
import { livenessInterceptor } from '../src/activities/liveness';

const CHROMIUM = process.env.CPM_CHROMIUM ?? '/usr/bin/chromium';
// screenshots refresh docs/ (used by the README) only when asked: CPM_UPDATE_SCREENSHOTS=1
const DOCS = process.env.CPM_UPDATE_SCREENSHOTS === '1' ? path.join(__dirname, '..', 'docs') : path.join(os.tmpdir(), 'cpm-webui-screenshots');
let server: DevServer;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup.sh (installs Debian chromium)`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  server = await startDevServer({ ui: true });
  connection = await NativeConnection.connect({ address: server.address });
  const { activities } = recordingActivities();
  worker = await Worker.create({
    interceptors: { activity: [livenessInterceptor] },
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
    activities,
  });
  running = worker.run();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  worker?.shutdown();
  await running;
  await connection?.close();
  await server?.stop();
});

describe('Temporal Web UI', () => {
  it('finds a migration waiting at switch-traffic by search attribute and shows its current details', async () => {
    const plan = testPlan({ cluster: 'prod-bj', gates: ['switch-traffic'] });
    const client = await server.client();
    const handle = await client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: workflowIdFor(plan.cluster),
      args: [{ plan, features: { searchAttributes: true } }],
      staticSummary: 'cpmigrate prod-bj: oldmaster-1,oldmaster-2,oldmaster-3 → master-1,master-2,master-3',
      staticDetails: 'Control-plane migration of **prod-bj**. VIP 10.200.20.241:443',
      typedSearchAttributes: [{ key: CpmCluster, value: plan.cluster }],
    });
    const end = Date.now() + 30_000;
    while (Date.now() < end && (await handle.query(statusQuery)).pendingCheckpoint?.gate !== 'switch-traffic') await new Promise((r) => setTimeout(r, 200));

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const ui = `http://127.0.0.1:${server.uiPort}`;
    const query = encodeURIComponent("CpmPendingGate='switch-traffic'");
    // the search attribute is indexed asynchronously: reload until the row shows
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      await page.goto(`${ui}/namespaces/default/workflows?query=${query}`, { waitUntil: 'domcontentloaded' });
      found = await page
        .getByText(handle.workflowId)
        .first()
        .waitFor({ timeout: 5_000 })
        .then(() => true)
        .catch(() => false);
    }
    expect(found).toBe(true);
    mkdirSync(DOCS, { recursive: true });
    await page.screenshot({ path: path.join(DOCS, 'webui-list-pending-gate.png') });

    await page.goto(`${ui}/namespaces/default/workflows/${handle.workflowId}/${handle.firstExecutionRunId}/history`, { waitUntil: 'domcontentloaded' });
    // current details (setCurrentDetails) live under the User Metadata tab
    await page.getByText('User Metadata').first().click({ timeout: 20_000 });
    await page.getByText('Current Details').first().waitFor({ timeout: 20_000 });
    let text = '';
    // the UI renders markdown in sandboxed iframes: read every frame
    for (let i = 0; i < 40 && !text.includes('needs approval'); i++) {
      await page.waitForTimeout(250);
      const texts = await Promise.all(
        page.frames().map((f) =>
          f
            .locator('body')
            .innerText()
            .catch(() => ''),
        ),
      );
      text = texts.join('\n');
    }
    expect(text).toContain('needs approval');
    expect(text).toContain('prod-bj');
    expect(text).toContain('switch-traffic');
    expect(text).toContain(`temporal workflow signal --workflow-id ${handle.workflowId} --name approve`);
    await page.screenshot({ path: path.join(DOCS, 'webui-current-details.png'), fullPage: false });
    await page.close();
    await handle.terminate('web ui test done');
  });
});
