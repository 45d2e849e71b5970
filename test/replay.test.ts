/**
 * Replay compatibility: a migration can wait days at a checkpoint while the
 * worker is upgraded, so the current workflow code must replay every history
 * recorded by earlier versions (test/histories/*.json, scripts/record-history.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';

const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of recorded migration histories', () => {
  it('has at least one recorded history', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      try {
        Runtime.install({ logger: new DefaultLogger('WARN') });
      } catch {
        /* already installed */
      }
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
      await Worker.runReplayHistory({ workflowsPath: path.join(__dirname, '..', 'src', 'workflows', 'index.ts') }, history, `replay-${file}`);
    });
  }
});
