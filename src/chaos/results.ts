/**
 * docs/chaos-results.md, kept up to date one scenario at a time.
 *
 * The whole matrix is several hours of lab time on a small machine, so each
 * scenario's row is saved (docs/chaos-results.json) as soon as it has been
 * assessed, and the markdown is rendered again from every row on record: a
 * later `npm run chaos -- --scenario NAME` replaces that scenario's row and
 * keeps the others, each with the date and load it was measured under.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { formatMs } from '../plan/duration';
import type { Assessment } from './assess';

export interface ResultRow extends Assessment {
  what: string;
  measuredAt: string;
  /** 1-minute load average at the end of the scenario, and the machine's cores. */
  load: number;
  cores: number;
}

export function loadRows(file: string): ResultRow[] {
  if (!existsSync(file)) return [];
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${file}: expected a JSON array of scenario results`);
  return parsed as ResultRow[];
}

export function upsertRow(rows: ResultRow[], a: Assessment, what: string, now = new Date()): ResultRow[] {
  const row: ResultRow = { ...a, what, measuredAt: now.toISOString(), load: Math.round((os.loadavg()[0] ?? 0) * 10) / 10, cores: os.cpus().length };
  return [...rows.filter((r) => r.scenario !== a.scenario), row];
}

export function renderTable(rows: Assessment[], totalMs?: number): string {
  const ms = (x: number | undefined) => (x === undefined ? '–' : `${x} ms`);
  const extra = (r: Assessment) =>
    'measuredAt' in r ? ` ${(r as ResultRow).measuredAt.slice(0, 16).replace('T', ' ')} (load ${(r as ResultRow).load}) |` : '';
  const dated = rows.some((r) => 'measuredAt' in r);
  const gap = (r: Assessment) =>
    `${ms(r.longestGapMs)}${r.longestGapStarvedMs ? ` (probe starved ${r.longestGapStarvedMs} ms of it; ${r.longestUnstarvedGapMs ?? 0} ms while it ran)` : ''}`;
  return [
    `| scenario | outcome | failpoints fired | worker deaths | worst recovery | longest API gap | min quorum margin | longest double VIP | migration |${dated ? ' measured |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|${dated ? '---|' : ''}`,
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.ok ? 'converged' : `FAILED: ${r.problems.join('; ').replace(/\|/g, '/')}`} | ${r.fired.length} | ${r.deaths} | ${ms(r.worstRecoveryMs)} | ${gap(r)} | ${r.minQuorumMargin ?? '–'} | ${ms(r.maxVipDoubleMs)} | ${formatMs(r.migrationMs)} |${extra(r)}`,
    ),
    '',
    `${rows.length} scenario(s), ${rows.filter((r) => r.ok).length} converged, ${rows.reduce((n, r) => n + r.fired.length, 0)} failpoint deaths` +
      (totalMs === undefined ? `, ${formatMs(rows.reduce((n, r) => n + r.migrationMs, 0))} of migrations.` : `, in ${formatMs(totalMs)}.`),
  ].join('\n');
}

export function renderDoc(rows: ResultRow[], failpointCount: number, command: string): string {
  return [
    '# Fault matrix results',
    '',
    `Written by \`${command}\` on the lab, one row per scenario as it finishes (a later run of one scenario replaces its row). ` +
      `${failpointCount} failpoints in the catalogue (docs/failpoints.md); each scenario is one migration with the safety monitor and two workers. ` +
      `The load average is the machine's at the end of the scenario: times measured under load are pessimistic.`,
    '',
    ...rows.map((r) => `- **${r.scenario}**: ${r.what}`),
    '',
    renderTable(rows),
    '',
    ...rows.map((r) => `- ${r.scenario} fired: ${r.fired.join(', ') || 'none'}`),
    '',
  ].join('\n');
}

export function saveRows(jsonFile: string, mdFile: string, rows: ResultRow[], failpointCount: number, command: string): void {
  writeFileSync(jsonFile, `${JSON.stringify(rows, null, 2)}\n`);
  writeFileSync(mdFile, renderDoc(rows, failpointCount, command));
}
