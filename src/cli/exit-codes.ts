/**
 * cpmigrate's exit codes: one meaning each, listed by `cpmigrate --help` and
 * in the README. The plan's three come from the plan loader (PLAN_EXIT).
 */
import { PLAN_EXIT } from '../plan/load';

export const EXIT = {
  /** done */
  ok: 0,
  /** an error nothing below names (the message says what) */
  failure: 1,
  /** the plan is invalid (every problem listed) */
  planInvalid: PLAN_EXIT.invalid,
  /** the plan file cannot be read */
  planUnreadable: PLAN_EXIT.unreadable,
  /** the plan file is not YAML/JSON */
  planSyntax: PLAN_EXIT.syntax,
  /** start: a migration of this cluster is already running */
  alreadyRunning: 5,
  /** approve: the workflow rejected the approval (not the pending checkpoint, or no longer valid) */
  approvalRejected: 6,
  /** abort: refused (past the point of no return; the migration pauses instead) */
  abortRefused: 7,
  /** lock break: refused (the holder still runs, or the lock is not what the plan names) */
  lockBreakRefused: 8,
  /** watch: the migration ended without completing (failed, terminated, timed out, cancelled) */
  migrationNotCompleted: 9,
  /** the Temporal server cannot be reached, or its connection settings are invalid */
  temporalUnavailable: 10,
  /** bad command line: unknown command or option, a missing argument, a value out of range */
  usage: 64,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const MEANING: Record<ExitCode, string> = {
  0: 'ok',
  1: 'error (the message says what)',
  2: 'the plan is invalid (every problem listed)',
  3: 'the plan file cannot be read',
  4: 'the plan file is not valid YAML/JSON',
  5: 'start: a migration of this cluster is already running',
  6: 'approve: rejected by the workflow (not the pending checkpoint, or not its evidence)',
  7: 'abort: refused (past the point of no return; the migration pauses)',
  8: 'lock break: refused (the holder still runs)',
  9: 'watch: the migration ended without completing',
  10: 'Temporal unreachable, or its connection settings are invalid',
  64: 'usage: unknown command or option, bad or missing value',
};

/** The table `--help` ends with (and the README's "Exit codes" section shows). */
export function exitCodesHelp(): string {
  return ['Exit codes:', ...Object.entries(MEANING).map(([code, what]) => `  ${code.padStart(2)}  ${what}`)].join('\n');
}

/** An error that ends the CLI with a given exit code (its message goes to stderr). */
export class CliExit extends Error {
  override readonly name = 'CliExit';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
