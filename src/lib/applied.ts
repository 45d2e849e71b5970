/**
 * Which configuration a running component was (re)started with, recorded on
 * the host itself, so a restart decision comes from the state of the host and
 * not from what one attempt of an activity happened to write.
 *
 * The bug this prevents: a config is pushed, the worker dies before the
 * daemon is restarted, the retried activity sees "file unchanged" and never
 * restarts it — the daemon keeps the old config and the migration reports
 * success. With a stamp, the retry sees "stamp != digest of the files now"
 * and restarts.
 *
 * The stamp is a hidden file beside the component's first config file
 * (`.NAME.cpmigrate-applied`: kubelet ignores dot-files in its static-pod dir)
 * holding the sha256 of `sha256sum FILES` as it was when the component was
 * last (re)started by cpmigrate. No stamp = unknown = not known to be current.
 */
import path from 'node:path';
import type { SshTarget } from '../plan/hosts';
import type { HostOps } from './hostops';
import { sha256hex } from './digest';
import { shq } from './shell';

export interface AppliedState {
  /** digest of the config files on the host now */
  digest: string;
  /** digest recorded when the component was last (re)started; undefined = never recorded */
  stamp: string | undefined;
  stampPath: string;
}

export function stampPathOf(files: readonly string[]): string {
  const first = files[0];
  if (!first) throw new Error('internal: a component needs at least one config file to stamp');
  return path.posix.join(path.posix.dirname(first), `.${path.posix.basename(first)}.cpmigrate-applied`);
}

/** The digest of the files as they are now (a missing file is a state too), and the recorded stamp. */
export async function appliedState(ops: HostOps, t: SshTarget, files: readonly string[]): Promise<AppliedState> {
  const stampPath = stampPathOf(files);
  const [stamp, ...contents] = await Promise.all([ops.readFile(t, stampPath), ...files.map((f) => ops.readFile(t, f))]);
  const digest = sha256hex(files.map((f, i) => `${f} ${contents[i] ? sha256hex(contents[i]) : 'missing'}`).join('\n'));
  return { digest, stamp: stamp?.toString('utf8').trim() || undefined, stampPath };
}

export const isCurrent = (s: AppliedState): boolean => s.stamp === s.digest;

/** Record that the component now runs the files with `state.digest`. */
export async function recordApplied(ops: HostOps, t: SshTarget, state: AppliedState): Promise<void> {
  await ops.pushFile(t, state.stampPath, `${state.digest}\n`, { mode: 0o600 });
}

/**
 * `COMMAND`, then the stamp, in one shell on the host: the stamp is written
 * there the moment the (re)start succeeds, so a worker that dies after the
 * command returned cannot leave a restarted daemon without its stamp (whose
 * retry would restart it a second time — for keepalived, a second VIP
 * handover). Only a death while the command itself runs leaves the stamp
 * old, and then the retry's restart is the right, conservative answer.
 */
export function withStamp(command: string, state: AppliedState): string {
  const tmp = `${state.stampPath}.tmp`;
  // a newline, not `;`, closes the group: the plan's command may end in `&` or a comment
  return `{ ${command}\n} && (umask 077 && printf '%s\\n' ${shq(state.digest)} > ${shq(tmp)} && mv -f ${shq(tmp)} ${shq(state.stampPath)})`;
}
