/**
 * Faults done to a running demo migration: one shape for the fault matrix's
 * environment faults, the production test's server kills and the demo's
 * `--kill-worker-after`. Each fault is started once, the first time its
 * condition holds for the migration's status; it runs in the background (the
 * migration goes on meanwhile) unless it is `blocking`.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { Plan } from '../plan/schema';
import type { MigrationStatus } from '../shared';

/** What a fault (or a checkpoint hook) can do to the running demo. */
export interface FaultContext {
  plan: Plan;
  log: (line: string) => void;
  handle: WorkflowHandle;
  /** pids of the worker processes still running */
  workerPids(): number[];
  /**
   * kill -9 the worker process that runs the activity in flight (waits up to 60 s for one
   * to be running on a worker of this demo); it is not replaced.
   */
  killBusyWorker(): Promise<{ pid: number; activity: string }>;
  /** kill -9 the newest worker and start a new one */
  replaceWorker(): Promise<{ killedPid: number; newPid: number }>;
  /** kill -9 the Temporal dev server and start it again on the same SQLite file */
  restartTemporal(downMs: number): Promise<void>;
}

export interface Fault {
  name: string;
  when: (s: MigrationStatus) => boolean;
  /** returns a line for the report */
  act(ctx: FaultContext): Promise<string | void>;
  /** the demo waits for it before it looks at the migration again (default: it runs in the background) */
  blocking?: boolean;
}

export interface FaultRecord {
  name: string;
  at: string;
  /** how long it took; -1 while it runs */
  ms: number;
  detail?: string;
  error?: string;
}

/** While this step runs. */
export const atStep = (key: string) => (s: MigrationStatus) => s.currentStep?.key === key;
/** Once this step has completed. */
export const afterStep = (key: string) => (s: MigrationStatus) => s.completed.some((c) => c.key === key);

/** Starts the faults that are due and records them; `settle()` waits for the background ones. */
export class FaultRunner {
  readonly done: FaultRecord[] = [];
  private readonly running: Array<Promise<void>> = [];

  constructor(
    private readonly faults: Fault[],
    private readonly log: (line: string) => void,
  ) {}

  async poll(s: MigrationStatus, ctx: FaultContext): Promise<void> {
    for (const f of this.faults) {
      if (this.done.some((d) => d.name === f.name) || !f.when(s)) continue;
      const t = Date.now();
      const rec: FaultRecord = { name: f.name, at: new Date(t).toISOString(), ms: -1 };
      this.done.push(rec);
      this.log(`fault: ${f.name}`);
      const run = f.act(ctx).then(
        (detail) => {
          rec.ms = Date.now() - t;
          if (detail) rec.detail = detail;
          this.log(`fault "${f.name}" done in ${rec.ms} ms${detail ? `: ${detail}` : ''}`);
        },
        (e: unknown) => {
          rec.ms = Date.now() - t;
          rec.error = (e as Error).message;
          this.log(`fault "${f.name}" FAILED: ${rec.error}`);
        },
      );
      if (f.blocking) await run;
      else this.running.push(run);
    }
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
  }
}
