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
  /** every gap of GAP_RECORD_MS or more without a successful answer (at most MAX_GAPS) */
  gaps: Array<{ from: string; to: string; ms: number }>;
}

export const GAP_RECORD_MS = 100;
const MAX_GAPS = 1_000;

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
  private seeded: string[] = [];
  private stopAt = 0;

  constructor(
    private readonly api: k8s.CoreV1Api,
    private readonly opts: { intervalMs?: number; maxDurationMs?: number; maxRequests?: number; requestTimeoutMs?: number } = {},
  ) {}

  /** Write objects before the migration; they must all be there after it. */
  async seed(count = 50): Promise<void> {
    for (let i = 0; i < count; i++) {
      const name = `${SEED_PREFIX}${i}`;
      const body = { metadata: { name }, data: { i: String(i), written: 'before-migration' } };
      await this.api.createNamespacedConfigMap({ namespace: NS, body }).catch(async (e: unknown) => {
        if ((e as { code?: number }).code === 409) await this.api.replaceNamespacedConfigMap({ name, namespace: NS, body });
        else throw e;
      });
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
    const maxRequests = this.opts.maxRequests ?? 200_000;
    if (Date.now() > this.stopAt || this.sent >= maxRequests) return this.halt();
    if (this.inflight >= 20) return; // do not pile up against a dead endpoint
    this.sent += 1;
    this.inflight += 1;
    const n = (this.seq += 1);
    const write = n % 2 === 0;
    const request = () => write
      ? this.api.replaceNamespacedConfigMap({ name: 'cpm-probe-live', namespace: NS, body: { metadata: { name: 'cpm-probe-live' }, data: { seq: String(n) } } }).catch(async (e: unknown) => {
          if ((e as { code?: number }).code === 404) return this.api.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cpm-probe-live' }, data: { seq: String(n) } } });
          throw e;
        })
      : this.api.readNamespacedConfigMap({ name: this.seeded[n % Math.max(1, this.seeded.length)] ?? 'cpm-probe-live', namespace: NS });
    const timeoutMs = this.opts.requestTimeoutMs ?? 2_000;
    within(request(), timeoutMs)
      .catch(async (e: unknown) => {
        this.failed += 1;
        this.failedBy[write ? 'write' : 'read'] += 1;
        if (this.errors.length < 10) this.errors.push(`${new Date().toISOString()} ${write ? 'write' : 'read'}: ${(e as Error).message?.split('\n')[0] ?? String(e)}`);
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
    if (gap > this.longestGapMs) {
      this.longestGapMs = gap;
      this.longestGapAt = new Date(now).toISOString();
    }
    if (gap >= GAP_RECORD_MS && this.gaps.length < MAX_GAPS) this.gaps.push({ from: new Date(this.lastOk).toISOString(), to: new Date(now).toISOString(), ms: gap });
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
    };
  }
}
