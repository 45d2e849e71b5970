/** Options shared by cpmigrate's commands, validated by commander before any action runs. */
import os from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { durationMs } from '../plan/duration';

/** Who runs the command (recorded with approvals, aborts, lock breaks): CPM_USER, else the login name. */
export function operatorName(): string {
  return process.env.CPM_USER || os.userInfo().username;
}

export type OutputFormat = 'text' | 'json';

export interface OutputOpts {
  output?: OutputFormat;
}

/** `-o, --output text|json`: anything else is a usage error. */
export function outputOption(description = 'text or json'): Option {
  return new Option('-o, --output <format>', description).choices(['text', 'json']).default('text');
}

/** A duration with its unit (500ms, 30s, 15m, 2h, 1d), as milliseconds. */
export function durationArg(text: string): number {
  try {
    return durationMs(text.trim());
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** A duration option (every duration on the command line takes a unit). */
export function durationOption(flags: string, description: string, dflt: string, minMs = 0): Option {
  return new Option(flags, `${description} (a duration: 500ms, 30s, 15m, 2h, 1d)`).default(durationArg(dflt), dflt).argParser((v: string) => {
    const ms = durationArg(v);
    if (ms < minMs) throw new InvalidArgumentError(`at least ${minMs}ms`);
    return ms;
  });
}
