/**
 * Replay compatibility: a migration can wait days at a checkpoint while the
 * worker is upgraded, so the current workflow code must replay every history
 * recorded by earlier versions (test/histories/*.json[.gz], recorded by
 * scripts/record-history.ts for every plan variant in
 * test/support/history-variants.ts). A workflow change that is not gated by
 * patched() fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORY_VARIANTS } from './support/history-variants';

const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json') || f.endsWith('.json.gz'));

function load(file: string): unknown {
  const raw = readFileSync(path.join(dir, file));
  return JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
}

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* already installed */
  }
  bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
}, 60_000);

describe('replay of recorded migration histories', () => {
  it('has a recorded history for every plan variant', () => {
    for (const v of HISTORY_VARIANTS)
      expect(
        files.some((f) => f.endsWith(`-${v.name}.json.gz`)),
        v.name,
      ).toBe(true);
  });
  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      const history = historyFromJSON(load(file));
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-${file}`);
    }, 60_000);
  }
});
