/**
 * Availability probe: reads and writes through the VIP every 100 ms while the
 * migration runs, and reports requests sent, failed, the longest gap without
 * a successful answer, and whether every object written before is still there.
 * A failed request is retried once at once, as a client would: failures are
 * counted before and after that retry, reads and writes apart. Every gap of
 * GAP_RECORD_MS or more between successful answers is kept (from, to), so a
 * benchmark can attribute it to its cause.
 * Bounded in count and time; it talks only to the VIP given (the lab's).
 */
import * as k8s from '@kubernetes/client-node';
import { ConstantBackoff, handleWhen, retry } from 'cockatiel';
import { sleep } from '../lib/sleep';

export interface ProbeReport {
  sent: number;
  ok: number;
  failed: number;
  /** longest time without a successful answer, ms */
  longestGapMs: number;
  longestGapAt?: string;
  durationMs: number;
  seeded: number;
  missingAfter: string[];
  firstErrors: string[];
  /** failures of the first try, by kind */
  failedReads: number;
  failedWrites: number;
  /** requests that failed again on their one retry */
  failedReadsAfterRetry: number;
  failedWritesAfterRetry: number;
  /** every gap of GAP_RECORD_MS or more without a successful answer (at most MAX_GAPS); starvedMs: how much of it the probe itself did not run */
  gaps: Array<{ from: string; to: string; ms: number; starvedMs?: number }>;
  /**
   * the probe's own stalls: its 20 ms timer fired more than STALL_MS late (the process was starved of CPU, as on a
   * loaded machine), so for that long it could neither send nor read answers — a gap then is partly the probe's
   */
  stalls: { count: number; longestMs: number; totalMs: number };
  /** the longest gap during which the probe ran at least half the time (the API's, not the probe's) */
  longestUnstarvedGapMs: number;
  /** of the longest gap, how long the probe itself was stalled */
  longestGapStarvedMs: number;
}

/** a timer tick this much later than its interval marks a stall of the probe process */
export const STALL_MS = 250;

/** ms of [from, to] covered by the stall windows */
export function overlapMs(from: number, to: number, stalls: ReadonlyArray<{ from: number; to: number }>): number {
  let ms = 0;
  for (const st of stalls) ms += Math.max(0, Math.min(to, st.to) - Math.max(from, st.from));
  return ms;
}

/** One sentence on the longest gap, saying how much of it the probe itself was starved. */
export function describeGap(p: Pick<ProbeReport, 'longestGapMs' | 'longestGapAt' | 'longestGapStarvedMs' | 'longestUnstarvedGapMs' | 'stalls'>): string {
  const at = p.longestGapAt ? ` at ${p.longestGapAt}` : '';
  if (!p.longestGapStarvedMs) return `longest gap ${p.longestGapMs} ms${at}`;
  return (
    `longest gap ${p.longestGapMs} ms${at}, of which the probe itself was starved of CPU ${p.longestGapStarvedMs} ms; ` +
    `longest gap while the probe ran: ${p.longestUnstarvedGapMs} ms (probe stalls: ${p.stalls.count}, longest ${p.stalls.longestMs} ms)`
  );
}

export const GAP_RECORD_MS = 100;
/** enough for a long run on a loaded machine (a gap record is ~100 bytes) */
const MAX_GAPS = 20_000;

const NS = 'default';
const SEED_PREFIX = 'cpm-probe-before-';

/** A client for the API through the VIP, with the admin kubeconfig's credentials. */
export function vipClient(kubeconfigPath: string, vip: string, port: number): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${kubeconfigPath}: no current cluster`);
  const server = `https://${vip}:${port}`;
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server } : c));
  return kc.makeApiClient(k8s.CoreV1Api);
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);
}

/** A patient client for the writes before a lab migration: every error but a 409 retried, 10 tries 1 s apart. */
export function clientRetry() {
  return retry(
    handleWhen((e) => (e as { code?: number }).code !== 409),
    { maxAttempts: 9, backoff: new ConstantBackoff(1_000) },
  );
}

export class AvailabilityProbe {
  private sent = 0;
  private ok = 0;
  private failed = 0;
  private lastOk = 0;
  private longestGapMs = 0;
  private longestGapAt?: string;
  private startedAt = 0;
  private timer?: NodeJS.Timeout;
  private inflight = 0;
  private seq = 0;
  private errors: string[] = [];
  private readonly failedBy = { read: 0, write: 0, readAgain: 0, writeAgain: 0 };
  private readonly gaps: ProbeReport['gaps'] = [];
  private readonly stalls: Array<{ from: number; to: number }> = [];
  private lastTickAt = 0;
  private longestGapStarvedMs = 0;
  private longestUnstarvedGapMs = 0;
  private seeded: string[] = [];
  private stopAt = 0;

  constructor(
    private readonly api: k8s.CoreV1Api,
    private readonly opts: { intervalMs?: number; maxDurationMs?: number; maxRequests?: number; requestTimeoutMs?: number } = {},
  ) {}

  /**
   * Write objects before the migration; they must all be there after it. Each
   * write is retried as a client would (a lab with a powered-off master starts
   * with apiservers whose etcd connection to it still has to time out): at most
   * 10 tries, 1 s apart.
   */
  async seed(count = 50): Promise<void> {
    const patient = clientRetry();
    for (let i = 0; i < count; i++) {
      const name = `${SEED_PREFIX}${i}`;
      const body = { metadata: { name }, data: { i: String(i), written: 'before-migration' } };
      await patient.execute(() =>
        this.api.createNamespacedConfigMap({ namespace: NS, body }).catch(async (e: unknown) => {
          if ((e as { code?: number }).code === 409) await this.api.replaceNamespacedConfigMap({ name, namespace: NS, body });
          else throw e;
        }),
      );
      this.seeded.push(name);
    }
  }

  start(): void {
    const interval = this.opts.intervalMs ?? 100;
    this.startedAt = Date.now();
    this.lastOk = this.startedAt;
    this.stopAt = this.startedAt + (this.opts.maxDurationMs ?? 2 * 3600_000);
    this.timer = setInterval(() => this.tick(), interval);
  }

  private tick(): void {
    const tickAt = Date.now();
    const interval = this.opts.intervalMs ?? 100;
    if (this.lastTickAt && tickAt - this.lastTickAt > interval + STALL_MS && this.stalls.length < MAX_GAPS)
      this.stalls.push({ from: this.lastTickAt + interval, to: tickAt });
    this.lastTickAt = tickAt;
    const maxRequests = this.opts.maxRequests ?? 200_000;
    if (Date.now() > this.stopAt || this.sent >= maxRequests) return this.halt();
    if (this.inflight >= 20) return; // do not pile up against a dead endpoint
    this.sent += 1;
    this.inflight += 1;
    const n = (this.seq += 1);
    const write = n % 2 === 0;
    const request = () =>
      write
        ? this.api
            .replaceNamespacedConfigMap({ name: 'cpm-probe-live', namespace: NS, body: { metadata: { name: 'cpm-probe-live' }, data: { seq: String(n) } } })
            .catch(async (e: unknown) => {
              if ((e as { code?: number }).code === 404)
                return this.api
                  .createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cpm-probe-live' }, data: { seq: String(n) } } })
                  .catch((c: unknown) => {
                    // another in-flight write created it first: the API answered, and the object is there
                    if ((c as { code?: number }).code === 409) return undefined;
                    throw c;
                  });
              throw e;
            })
        : this.api.readNamespacedConfigMap({ name: this.seeded[n % Math.max(1, this.seeded.length)] ?? 'cpm-probe-live', namespace: NS });
    const timeoutMs = this.opts.requestTimeoutMs ?? 2_000;
    within(request(), timeoutMs)
      .catch(async (e: unknown) => {
        this.failed += 1;
        this.failedBy[write ? 'write' : 'read'] += 1;
        if (this.errors.length < 10)
          this.errors.push(`${new Date().toISOString()} ${write ? 'write' : 'read'}: ${(e as Error).message?.split('\n')[0] ?? String(e)}`);
        return within(request(), timeoutMs).catch((again: unknown) => {
          this.failedBy[write ? 'writeAgain' : 'readAgain'] += 1;
          throw again;
        });
      })
      .then(() => {
        const now = Date.now();
        this.noteGap(now);
        this.lastOk = now;
        this.ok += 1;
      })
      .catch(() => undefined)
      .finally(() => {
        this.inflight -= 1;
      });
  }

  private noteGap(now: number): void {
    const gap = now - this.lastOk;
    const starvedMs = gap >= GAP_RECORD_MS ? overlapMs(this.lastOk, now, this.stalls) : 0;
    if (gap > this.longestGapMs) {
      this.longestGapMs = gap;
      this.longestGapAt = new Date(now).toISOString();
      this.longestGapStarvedMs = starvedMs;
    }
    if (starvedMs * 2 < gap) this.longestUnstarvedGapMs = Math.max(this.longestUnstarvedGapMs, gap);
    if (gap >= GAP_RECORD_MS && this.gaps.length < MAX_GAPS)
      this.gaps.push({ from: new Date(this.lastOk).toISOString(), to: new Date(now).toISOString(), ms: gap, ...(starvedMs ? { starvedMs } : {}) });
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stop probing, let in-flight requests settle, and check the seeded objects. */
  async stop(): Promise<ProbeReport> {
    this.halt();
    const settle = Date.now() + 5_000;
    while (this.inflight > 0 && Date.now() < settle) await sleep(50);
    const end = Date.now();
    this.noteGap(end);
    const missingAfter: string[] = [];
    for (const name of this.seeded) {
      const cm = await this.api.readNamespacedConfigMap({ name, namespace: NS }).catch(() => undefined);
      if (!cm || cm.data?.written !== 'before-migration') missingAfter.push(name);
    }
    return {
      sent: this.sent,
      ok: this.ok,
      failed: this.failed,
      longestGapMs: this.longestGapMs,
      longestGapAt: this.longestGapAt,
      durationMs: end - this.startedAt,
      seeded: this.seeded.length,
      missingAfter,
      firstErrors: this.errors,
      failedReads: this.failedBy.read,
      failedWrites: this.failedBy.write,
      failedReadsAfterRetry: this.failedBy.readAgain,
      failedWritesAfterRetry: this.failedBy.writeAgain,
      gaps: this.gaps,
      stalls: {
        count: this.stalls.length,
        longestMs: Math.max(0, ...this.stalls.map((x) => x.to - x.from)),
        totalMs: this.stalls.reduce((n, x) => n + x.to - x.from, 0),
      },
      longestUnstarvedGapMs: this.longestUnstarvedGapMs,
      longestGapStarvedMs: this.longestGapStarvedMs,
    };
  }
}

/**
 * What a client would have seen fail: requests that failed again on their one
 * retry (a first try that fails during a VIP handover — a reset connection —
 * and succeeds on the retry is what every Kubernetes client does anyway).
 * Empty when none did.
 */
export function failuresAfterRetry(p: ProbeReport): string[] {
  const n = p.failedWritesAfterRetry + p.failedReadsAfterRetry;
  if (n === 0) return [];
  return [
    `${p.failedWritesAfterRetry} write(s) and ${p.failedReadsAfterRetry} read(s) through the VIP failed again after one retry (first errors: ${p.firstErrors.slice(0, 5).join('; ')})`,
  ];
}

/** "5 first tries failed, 0 after one retry" */
export function describeFailures(p: ProbeReport): string {
  return `${p.failed} of ${p.sent} first tries failed, ${p.failedWritesAfterRetry + p.failedReadsAfterRetry} after one retry`;
}
