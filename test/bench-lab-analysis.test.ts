/** The lab benchmark's analysis: API gaps by cause, the critical path per step (pure: no servers). */
import { describe, expect, it } from 'vitest';
import { attributeGap, summarizeAvailability, type GapContext } from '../src/bench/availability';
import { criticalPath, parseActivityLines } from '../src/bench/critical-path';

const at = (ms: number) => new Date(Date.parse('2026-12-02T02:00:00.000Z') + ms).toISOString();
const t = (ms: number) => Date.parse(at(ms));

const ctx: GapContext = {
  vipEvents: [
    { at: at(10_000), host: 'oldmaster-1', holds: false },
    { at: at(10_040), host: 'master-1', holds: true },
  ],
  leaderChanges: [
    { at: at(0), leader: 'aa' },
    { at: at(20_050), leader: 'bb' },
  ],
  activities: [
    { summary: 'stopComponent oldmaster-1 apiserver', from: t(30_000), to: t(31_000) },
    { summary: 'etcdRemoveMember oldmaster-2', from: t(19_000), to: t(22_000) },
    { summary: 'configureKeepalived master-2', from: t(40_000), to: t(41_000) },
  ],
};

describe('API gaps by cause', () => {
  it('a gap around a VIP move is the VIP switch, naming who dropped and who took it', () => {
    expect(attributeGap({ from: at(9_900), to: at(10_180), ms: 280 }, ctx)).toMatchObject({ cause: 'VIP switch', detail: '-oldmaster-1 +master-1' });
  });
  it('a leader change near a gap beats the activity running then; the first leader seen is no change', () => {
    expect(attributeGap({ from: at(20_000), to: at(21_200), ms: 1_200 }, ctx)).toMatchObject({ cause: 'etcd leader change', detail: 'leader bb' });
    expect(attributeGap({ from: at(100), to: at(300), ms: 200 }, ctx).cause).toBe('unexplained');
  });
  it('otherwise the activity under way: an apiserver stop or start by name, anything else as the step it was', () => {
    expect(attributeGap({ from: at(30_500), to: at(30_700), ms: 200 }, ctx)).toMatchObject({
      cause: 'apiserver start/stop',
      detail: 'stopComponent oldmaster-1 apiserver',
    });
    expect(attributeGap({ from: at(40_100), to: at(40_300), ms: 200 }, ctx)).toMatchObject({
      cause: 'during another step',
      detail: 'configureKeepalived master-2',
    });
  });
  it('the summary keeps the longest gap of each cause and its count', () => {
    const s = summarizeAvailability(
      [
        { from: at(9_900), to: at(10_180), ms: 280 },
        { from: at(10_500), to: at(10_600), ms: 100 },
        { from: at(20_000), to: at(21_200), ms: 1_200 },
      ],
      1_200,
      ctx,
    );
    expect(s.longestGapCause).toBe('etcd leader change');
    // the gap at 10 500 starts 460 ms after the VIP moved: within the 500 ms slack, the VIP switch too
    expect(s.byCause['VIP switch']).toEqual({ count: 2, maxMs: 280, detail: '-oldmaster-1 +master-1' });
    expect(s.byCause['etcd leader change']?.count).toBe(1);
    expect(s.byCause.unexplained).toBeUndefined();
  });
});

describe('critical path per step', () => {
  const log = [
    '{"ts":"x","level":"info","msg":"worker started"}',
    'not json',
    JSON.stringify({ ts: at(4_000), msg: 'activity completed', activityType: 'startComponent', ms: 500, workflowId: 'cpmigrate-lab' }),
    JSON.stringify({
      ts: at(9_000),
      msg: 'activity completed',
      activityType: 'waitComponentHealthy',
      ms: 5_000,
      workflowId: 'cpmigrate-lab',
      waits: [{ what: 'kube-apiserver on master-1 ready', ms: 4_900, neededMs: 3_950, checks: 5, ok: true }],
    }),
    JSON.stringify({
      ts: at(30_000),
      msg: 'activity failed',
      activityType: 'etcdJoinMember',
      ms: 8_000,
      waits: [{ what: 'etcd reconfiguration: member add', ms: 5_000, neededMs: 4_600, checks: 6, ok: true }],
    }),
  ].join('\n');

  it('reads the completed and failed activity lines of a worker log, skipping everything else', () => {
    const lines = parseActivityLines(log);
    expect(lines.map((l) => [l.activityType, l.ms, l.waits.length])).toEqual([
      ['startComponent', 500, 0],
      ['waitComponentHealthy', 5_000, 1],
      ['etcdJoinMember', 8_000, 1],
    ]);
  });

  it('per step: the span without checkpoint waits, the needed waits of the activities inside it', () => {
    const spans = [
      { step: 'apiserver/master-1', from: t(3_000), to: t(10_000) },
      { step: 'switch-traffic', from: t(10_000), to: t(20_000) },
      { step: 'etcd-join/master-2', from: t(20_000), to: t(31_000) },
    ];
    const segments = [
      { from: t(3_000), to: t(10_000), cause: 'activity' as const },
      { from: t(10_000), to: t(19_900), cause: 'operator' as const },
      { from: t(19_900), to: t(31_000), cause: 'activity' as const },
    ];
    const rows = criticalPath(spans, segments, parseActivityLines(log));
    expect(rows.map((r) => [r.step, r.wallMs, r.unavoidableMs, r.waitedMs])).toEqual([
      ['apiserver/master-1', 7_000, 3_950, 4_900],
      ['switch-traffic', 100, 0, 0],
      ['etcd-join/master-2', 11_000, 4_600, 5_000],
    ]);
    expect(rows[0]?.top).toEqual(['kube-apiserver on master-1 ready: 4.0/4.9 s']);
  });
});
