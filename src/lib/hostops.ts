/**
 * How activities act on a host. Production: SSH (src/lib/ssh.ts). Every
 * activity takes a HostOps so the same code runs over SSH in production and
 * in the lab; a test may inject a local implementation for one concern.
 */
import type { SshTarget } from '../plan/hosts';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface PushResult {
  path: string;
  changed: boolean;
  backupPath?: string;
  sha256: string;
}

export interface RunOptions {
  timeoutMs?: number;
  /** do not throw on non-zero exit; return the result */
  allowFailure?: boolean;
  /** stdin for the command */
  input?: string | Buffer;
}

export interface PushOptions {
  /** required when the file does not exist yet: cpmigrate never invents a mode (give the source's) */
  mode?: number;
  owner?: string;
  /** mode and owner of the directory when pushFile has to create it (the source's directory) */
  dirMode?: number;
  dirOwner?: string;
  /** keep the previous version as PATH.cpmigrate-bak-<sha8> before replacing */
  backup?: boolean;
}

export interface HostOps {
  run(target: SshTarget, command: string, opts?: RunOptions): Promise<CommandResult>;
  pushFile(target: SshTarget, path: string, content: string | Buffer, opts?: PushOptions): Promise<PushResult>;
  /** undefined when the file does not exist */
  readFile(target: SshTarget, path: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}
