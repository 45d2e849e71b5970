/**
 * HostOps over SSH (ssh2): run commands, push and read files on the masters.
 *   known-hosts.ts  known_hosts parsing, fingerprints (pure)
 *   host-key.ts     the pin policy: pinned fingerprint, else known_hosts, else refuse
 *   connect.ts      one connection: private key, handshake, classified failures
 *   exec.ts         one command on a channel: timeout, heartbeat, process-group kill
 *   push.ts         read a file; push one atomically (checked, backed up, renamed over)
 *   pool.ts         SshHostOps: connection reuse, channel limits, idle close
 */
export { DEFAULT_COMMAND_TIMEOUT_MS, stderrTail } from './exec';
export { keyTypeOfBlob, knownHostsName, knownHostsPatternMatches, parseKnownHosts, sshFingerprint, type KnownHostEntry } from './known-hosts';
export { SshHostOps, sshHostOps, type SshHostOpsOptions, type SshHostOpsStats } from './pool';
export { UnknownHostKeyError } from '../../errors';
