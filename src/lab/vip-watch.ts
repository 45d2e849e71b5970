/**
 * Who holds the VIP, event by event: one `ip -o monitor address` per lab
 * master namespace (the kernel reports every add and delete the moment it
 * happens), seeded by one `ip -4 -o addr show`. Records every interval with
 * no holder and with more than one. Lab only (it reads the namespaces).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { HOSTS, VIP } from './layout';
import { run } from './exec';

export interface VipInterval {
  from: string;
  ms: number;
  holders: string[];
}

export interface VipWatchReport {
  /** every interval with 2+ holders */
  doubles: VipInterval[];
  /** every interval with no holder */
  gaps: VipInterval[];
  maxDoubleMs: number;
  maxGapMs: number;
  changes: number;
  holdersAtEnd: string[];
  /** every add (holds) and delete of the VIP, in order */
  events: Array<{ at: string; host: string; holds: boolean }>;
}

export class VipWatch {
  private readonly holders = new Set<string>();
  private readonly procs: ChildProcess[] = [];
  private since = Date.now();
  private readonly doubles: VipInterval[] = [];
  private readonly gaps: VipInterval[] = [];
  private changes = 0;
  private readonly events: VipWatchReport['events'] = [];

  async start(): Promise<void> {
    const masters = HOSTS.filter((h) => h.role !== 'worker');
    for (const h of masters) {
      const p = spawn('ip', ['netns', 'exec', h.name, 'ip', '-o', '-4', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      p.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.includes(` ${VIP}/`)) this.set(h.name, !l.startsWith('Deleted'));
      });
      this.procs.push(p);
    }
    // the namespace itself, not an SSH-like session: a powered-off host (no sshd; a failed master) still has its addresses
    const seen = await Promise.all(
      masters.map(async (h) => ((await run(['ip', 'netns', 'exec', h.name, 'ip', '-4', '-o', 'addr', 'show'])).stdout.includes(` ${VIP}/`) ? h.name : '')),
    );
    for (const n of seen) if (n) this.holders.add(n);
    this.since = Date.now();
  }

  private close(now: number): void {
    const ms = now - this.since;
    const rec = { from: new Date(this.since).toISOString(), ms, holders: [...this.holders] };
    if (this.holders.size > 1) this.doubles.push(rec);
    if (this.holders.size === 0) this.gaps.push(rec);
  }

  private set(host: string, holds: boolean): void {
    if (holds === this.holders.has(host)) return;
    const now = Date.now();
    this.close(now);
    if (holds) this.holders.add(host);
    else this.holders.delete(host);
    this.since = now;
    this.changes++;
    this.events.push({ at: new Date(now).toISOString(), host, holds });
  }

  current(): string[] {
    return [...this.holders];
  }

  stop(): VipWatchReport {
    this.close(Date.now());
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGTERM');
    return {
      doubles: this.doubles,
      gaps: this.gaps,
      maxDoubleMs: Math.max(0, ...this.doubles.map((d) => d.ms)),
      maxGapMs: Math.max(0, ...this.gaps.map((d) => d.ms)),
      changes: this.changes,
      holdersAtEnd: [...this.holders],
      events: this.events,
    };
  }
}
