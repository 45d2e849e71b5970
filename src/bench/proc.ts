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

/** CPU time (user + system) the process has used so far, ms; undefined once it is gone. Independent of the machine's load. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // fields after the ")" of the command name: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz on Linux)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}
