import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Assessment } from '../src/chaos/assess';
import { loadRows, saveRows, upsertRow } from '../src/chaos/results';

const row = (scenario: string, ok: boolean, migrationMs: number): Assessment => ({
  scenario,
  ok,
  problems: ok ? [] : ['migration failed: held at etcd-join/master-1'],
  fired: ok ? ['etcd.join.after-member-add'] : [],
  deaths: ok ? 1 : 0,
  longestGapMs: 420,
  migrationMs,
});

describe('chaos results kept one scenario at a time', () => {
  it('replaces a scenario row on a rerun and keeps the other scenarios', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-chaos-results-'));
    const json = path.join(dir, 'r.json');
    const md = path.join(dir, 'r.md');
    let rows = upsertRow(loadRows(json), row('worker-failpoints', false, 60_000), 'every failpoint', new Date('2026-12-01T10:00:00Z'));
    rows = upsertRow(rows, row('rollback', true, 90_000), 'rollback', new Date('2026-12-01T11:00:00Z'));
    saveRows(json, md, rows, 58, 'npm run chaos');
    rows = upsertRow(loadRows(json), row('worker-failpoints', true, 120_000), 'every failpoint', new Date('2026-12-02T10:00:00Z'));
    saveRows(json, md, rows, 58, 'npm run chaos -- --scenario worker-failpoints');
    const back = loadRows(json);
    expect(back.map((r) => [r.scenario, r.ok])).toEqual([
      ['rollback', true],
      ['worker-failpoints', true],
    ]);
    const doc = readFileSync(md, 'utf8');
    expect(doc).toContain('2 scenario(s), 2 converged, 2 failpoint deaths');
    expect(doc).toContain('2026-12-02 10:00');
    expect(doc).not.toContain('held at etcd-join');
  });
});
