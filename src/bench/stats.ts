/** Small numeric helpers for benchmark tables: percentiles, the load average, sizes. */
import os from 'node:os';

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  if (p < 0 || p > 100) throw new Error(`percentile: p must be in 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** The 1, 5 and 15 minute load averages, as printed beside every measurement ("load 3.1 2.8 2.5 on 2 cores"). */
export function loadAverage(): string {
  const [a, b, c] = os.loadavg().map((x) => x.toFixed(1));
  return `${a} ${b} ${c} on ${os.cpus().length} cores`;
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
export const millis = (ms: number): string => (Number.isNaN(ms) ? '-' : `${ms.toFixed(0)} ms`);
