/**
 * API availability through the VIP over a lab migration: every gap the 20 ms
 * probe saw (src/demo/probe.ts), attributed to what happened then — the VIP
 * moving (kernel address events, src/lab/vip-watch.ts), an etcd leader change
 * (the safety monitor), or the activity the migration ran at that moment
 * (an apiserver stopped or started, an etcd member removed, ...).
 */

export interface Gap {
  from: string;
  to: string;
  ms: number;
}

export interface GapContext {
  vipEvents: ReadonlyArray<{ at: string; host: string; holds: boolean }>;
  leaderChanges: ReadonlyArray<{ at: string; leader: string }>;
  activities: ReadonlyArray<{ summary: string; from: number; to: number }>;
  /** how far before or after a gap an event still explains it (the monitor samples every 100 ms) */
  slackMs?: number;
}

export type GapCause = 'VIP switch' | 'etcd leader change' | 'apiserver start/stop' | 'during another step' | 'unexplained';

export interface AttributedGap extends Gap {
  cause: GapCause;
  detail: string;
}

export function attributeGap(g: Gap, ctx: GapContext): AttributedGap {
  const slack = ctx.slackMs ?? 500;
  const from = Date.parse(g.from);
  const to = Date.parse(g.to);
  const near = (at: string, before: number, after: number) => {
    const t = Date.parse(at);
    return t >= from - before && t <= to + after;
  };
  const vip = ctx.vipEvents.filter((e) => near(e.at, slack, 0));
  if (vip.length) return { ...g, cause: 'VIP switch', detail: vip.map((e) => `${e.holds ? '+' : '-'}${e.host}`).join(' ') };
  const leader = ctx.leaderChanges.filter((c, i) => i > 0 && near(c.at, slack, slack));
  if (leader.length) return { ...g, cause: 'etcd leader change', detail: `leader ${leader.map((c) => c.leader).join(' → ')}` };
  const running = ctx.activities.filter((a) => a.from <= to && a.to >= from);
  const apiserver = running.find((a) => /^(start|stop)Component \S+ apiserver\b/.test(a.summary));
  if (apiserver) return { ...g, cause: 'apiserver start/stop', detail: apiserver.summary };
  if (running.length) return { ...g, cause: 'during another step', detail: running.map((a) => a.summary).join('; ') };
  return { ...g, cause: 'unexplained', detail: 'no VIP move, leader change or activity at that time (a loaded machine?)' };
}

export interface AvailabilitySummary {
  longestGapMs: number;
  longestGapCause?: GapCause;
  /** the longest gap of each cause, and how many gaps it had */
  byCause: Partial<Record<GapCause, { count: number; maxMs: number; detail: string }>>;
  gaps: AttributedGap[];
}

export function summarizeAvailability(gaps: readonly Gap[], longestGapMs: number, ctx: GapContext): AvailabilitySummary {
  const attributed = gaps.map((g) => attributeGap(g, ctx));
  const byCause: AvailabilitySummary['byCause'] = {};
  for (const g of attributed) {
    const c = (byCause[g.cause] ??= { count: 0, maxMs: 0, detail: '' });
    c.count += 1;
    if (g.ms > c.maxMs) {
      c.maxMs = g.ms;
      c.detail = g.detail;
    }
  }
  const longest = [...attributed].sort((a, b) => b.ms - a.ms)[0];
  return { longestGapMs, ...(longest ? { longestGapCause: longest.cause } : {}), byCause, gaps: attributed };
}
