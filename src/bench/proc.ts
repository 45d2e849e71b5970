/** Resident memory of a process, from /proc (Linux): what the kernel charges it, not the JS heap. */
import { readFileSync } from 'node:fs';

/** VmRSS and VmHWM (peak RSS) in bytes; undefined once the process is gone. */
export function processMemory(pid: number): { rss: number; peak: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
