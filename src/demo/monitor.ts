/**
 * The independent safety monitor: runs beside a lab migration, outside the
 * worker, and trusts nothing the workflow says. Every 100 ms it asks every
 * etcd endpoint of the plan for its status and the member list, and computes
 * the quorum margin of that instant: healthy voters (answering, with a
 * leader) minus the quorum of the current voting membership. The VIP holders
 * come from kernel address events (src/lab/vip-watch.ts), the API gap from a
 * 20 ms probe through the VIP. A run is unsafe if the margin ever goes below
 * 0 or the VIP is held twice (longer than a VRRP handover: see DOUBLE_GRACE_MS).
 */
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, etcdAccess, listMembers } from '../lib/etcd';
import { quorumOf } from '../lib/quorum';
import { allMasters } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { VipWatch, type VipWatchReport } from '../lab/vip-watch';
import { AvailabilityProbe, describeGap, vipClient, type ProbeReport } from './probe';
import { sleep } from '../lib/sleep';

/**
 * Two holders for a few milliseconds is how VRRP hands over (the new master
 * adds the VIP as the old one drops it); longer means both sides think they
 * are master: split brain.
 */
export const DOUBLE_GRACE_MS = 250;
const SAMPLE_MS = 100;
const CALL_MS = 1_000;
/**
 * A member is healthy at an instant if it answered (status, with a leader)
 * within this window: on a loaded machine one slow answer is not an outage,
 * while a member that is down stops answering and drops out after 1.5 s.
 */
const HEALTH_WINDOW_MS = 1_500;
/**
 * The longest one sampling round takes when the monitor itself runs on time: a
 * status call and a member-list call that each time out, and the pause. Ages
 * are counted on a clock that advances at most this much per round, so a
 * monitor starved of CPU (on a loaded machine its timers fire late, before the
 * answers that arrived meanwhile are read) does not see every member age out
 * at once, while a member that is really down still drops out after two rounds.
 */
const ROUND_BUDGET_MS = 2 * CALL_MS + SAMPLE_MS;
/** A timeout timer this late marks the round as starved (see sampleOnce). */
const LATE_TIMER_MS = 250;

export interface MonitorReport {
  samples: number;
  minQuorumMargin: number;
  minMarginAt?: string;
  minMarginDetail?: string;
  /** distinct leader ids seen, in order (a change = an election or a leader move) */
  leaders: string[];
  /** when each leader in `leaders` was first seen */
  leaderChanges: Array<{ at: string; leader: string }>;
  /** rounds that took longer than ROUND_BUDGET_MS (the monitor was starved), and the longest */
  stalls: { count: number; longestMs: number };
  vip: VipWatchReport;
  probe: ProbeReport;
  /** why the run is unsafe; empty when safe */
  violations: string[];
}

/** A clock that advances by the wall time between rounds, but at most `budgetMs` per round (ROUND_BUDGET_MS). */
export class RoundClock {
  private now = 0;
  private last = 0;
  private count = 0;
  private longest = 0;

  constructor(private readonly budgetMs: number) {}

  /** `starved`: the round's own timers fired late, so it does not age anyone. */
  tick(wall: number, starved = false): number {
    const elapsed = this.last ? wall - this.last : 0;
    this.last = wall;
    if (starved) {
      this.count++;
      this.longest = Math.max(this.longest, elapsed);
      return this.now;
    }
    if (elapsed > this.budgetMs) {
      this.count++;
      this.longest = Math.max(this.longest, elapsed);
    }
    this.now += Math.min(elapsed, this.budgetMs);
    return this.now;
  }

  stalls(): { count: number; longestMs: number } {
    return { count: this.count, longestMs: this.longest };
  }
}

export class SafetyMonitor {
  private readonly clients = new Map<string, Etcd3>();
  private readonly watch = new VipWatch();
  private readonly probe: AvailabilityProbe;
  private running = false;
  private loop?: Promise<void>;
  private samples = 0;
  private minMargin = Number.POSITIVE_INFINITY;
  private minAt?: string;
  private minDetail?: string;
  private readonly leaders: string[] = [];
  private readonly leaderChanges: MonitorReport['leaderChanges'] = [];
  private lastList: Awaited<ReturnType<typeof listMembers>> | undefined;
  private lastListAt = 0;
  /** when each member id last answered with a leader, on the round clock */
  private readonly lastOk = new Map<string, number>();
  private readonly clock = new RoundClock(ROUND_BUDGET_MS);

  constructor(
    private readonly plan: Plan,
    opts: { maxMinutes: number },
  ) {
    const access = etcdAccess(plan, CALL_MS);
    for (const h of allMasters(plan)) this.clients.set(h.etcd.clientURL, createEtcdClient(access, [h.etcd.clientURL]));
    this.probe = new AvailabilityProbe(vipClient(plan.kubeconfig, plan.loadBalancer.vip, plan.loadBalancer.port), {
      intervalMs: 20,
      maxDurationMs: opts.maxMinutes * 60_000,
      requestTimeoutMs: 2_000,
    });
  }

  /** Seeds the probe's objects (they must survive), then starts sampling. */
  async start(seed = 50): Promise<void> {
    await this.probe.seed(seed);
    await this.watch.start();
    this.probe.start();
    this.running = true;
    this.loop = this.sampleLoop();
  }

  private async sampleOnce(): Promise<void> {
    // a timeout timer that fires much later than asked means the monitor itself was starved of CPU (its timers then
    // fire before the answers that arrived meanwhile are read): such a round says nothing about the members
    let lateMs = 0;
    const within = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<undefined>((r) => {
          const asked = Date.now();
          setTimeout(() => {
            lateMs = Math.max(lateMs, Date.now() - asked - CALL_MS);
            r(undefined);
          }, CALL_MS);
        }),
      ]);
    const rows = await Promise.all(
      [...this.clients.entries()].map(async ([url, c]) => {
        const st = await within(c.maintenance.status().catch(() => undefined));
        const members = st ? await within(listMembers(c).catch(() => undefined)) : undefined;
        return { url, st, members };
      }),
    );
    const now = this.clock.tick(Date.now(), lateMs > LATE_TIMER_MS);
    const answered = rows.find((r) => r.members)?.members;
    if (answered) {
      this.lastList = answered;
      this.lastListAt = now;
    }
    // nobody answered this round: the last list stands while it is fresh; health ages out below
    const list = now - this.lastListAt <= HEALTH_WINDOW_MS ? this.lastList : undefined;
    if (!list) {
      this.record(-1, `no endpoint answered the member list for ${now - this.lastListAt} ms`);
      return;
    }
    for (const r of rows) if (r.st && r.st.leader !== '0') this.lastOk.set(r.st.header.member_id, now);
    const voters = list.filter((m) => !m.isLearner);
    const healthy = voters.filter((m) => now - (this.lastOk.get(m.id) ?? Number.NEGATIVE_INFINITY) <= HEALTH_WINDOW_MS).length;
    const margin = healthy - quorumOf(voters.length);
    const leader = rows.find((r) => r.st && r.st.leader !== '0')?.st?.leader;
    if (leader && this.leaders.at(-1) !== leader) {
      this.leaders.push(leader);
      this.leaderChanges.push({ at: new Date().toISOString(), leader }); // wall time (now is the round clock)
    }
    this.record(margin, `${healthy} healthy of ${voters.length} voters (quorum ${quorumOf(voters.length)}), ${list.length - voters.length} learner(s)`);
  }

  private record(margin: number, detail: string): void {
    this.samples++;
    if (margin < this.minMargin) {
      this.minMargin = margin;
      this.minAt = new Date().toISOString();
      this.minDetail = detail;
    }
  }

  private async sampleLoop(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      await this.sampleOnce().catch(() => this.record(-1, 'sampling failed'));
      await sleep(Math.max(0, SAMPLE_MS - (Date.now() - t0)));
    }
  }

  async stop(): Promise<MonitorReport> {
    this.running = false;
    await this.loop;
    const probe = await this.probe.stop();
    const vip = this.watch.stop();
    for (const c of this.clients.values()) c.close();
    const violations: string[] = [];
    if (this.minMargin < 0) violations.push(`etcd quorum margin went to ${this.minMargin} at ${this.minAt} (${this.minDetail})`);
    const doubles = vip.doubles.filter((d) => d.ms > DOUBLE_GRACE_MS);
    if (doubles.length) violations.push(`the VIP was held twice: ${doubles.map((d) => `${d.holders.join('+')} for ${d.ms} ms at ${d.from}`).join('; ')}`);
    return {
      samples: this.samples,
      minQuorumMargin: this.minMargin === Number.POSITIVE_INFINITY ? 0 : this.minMargin,
      minMarginAt: this.minAt,
      minMarginDetail: this.minDetail,
      leaders: this.leaders,
      leaderChanges: this.leaderChanges,
      stalls: this.clock.stalls(),
      vip,
      probe,
      violations,
    };
  }
}

export function renderMonitor(m: MonitorReport): string[] {
  return [
    `safety monitor: ${m.samples} etcd samples, minimum quorum margin ${m.minQuorumMargin}${m.minMarginDetail ? ` (${m.minMarginDetail}, ${m.minMarginAt})` : ''}, ${Math.max(0, m.leaders.length - 1)} leader change(s)` +
      (m.stalls.count
        ? `; the monitor itself was starved in ${m.stalls.count} round(s), longest ${m.stalls.longestMs} ms (not counted as member outages)`
        : ''),
    `  VIP: ${m.vip.changes} holder changes, longest time with no holder ${m.vip.maxGapMs} ms, longest with two ${m.vip.maxDoubleMs} ms, held by ${m.vip.holdersAtEnd.join(', ') || 'nobody'} at the end`,
    `  API through the VIP (20 ms probe): ${m.probe.sent} requests, ${m.probe.failed} failed, ${describeGap(m.probe)}; ${m.probe.missingAfter.length} of ${m.probe.seeded} objects missing after`,
    ...m.violations.map((v) => `  UNSAFE: ${v}`),
  ];
}
