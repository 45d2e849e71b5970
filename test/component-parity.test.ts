/**
 * Flag parity on REAL processes: a real kube-scheduler (the binaries of
 * scripts/build-kube.sh) runs in each of two network namespaces this test
 * creates, one per "host"; the parity check finds each by its binary in the
 * host's network namespace, reads /proc/PID/cmdline and compares. A HostOps
 * that runs commands with `ip netns exec` stands in for SSH (the SSH path is
 * tested in ssh.test.ts). Run under the test lock (root; real processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertParity, componentParity, type ParityReport } from '../src/activities/component-parity';
import type { CommandResult, PushResult } from '../src/activities/types';
import { FlagParityError } from '../src/errors';
import type { HostOps, RunOptions } from '../src/lib/hostops';
import type { SshTarget } from '../src/plan/hosts';
import { kubeBinDir } from './support/kube-control-plane';
import { testPlan } from './support/plans';

const plan = testPlan();
const OLD = plan.oldMasters[0]!;
const NEW = plan.newMasters[0]!;
const NS: Record<string, string> = { [OLD.name]: `cpmt10-o${process.pid}`, [NEW.name]: `cpmt10-n${process.pid}` };

function sh(argv: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ stdout, stderr, exitCode: code ?? -1 }));
    c.stdin.end(input ?? '');
  });
}

/** TEST ONLY: commands of host H run in H's network namespace; nothing is ever written. */
class NetnsHostOps implements HostOps {
  readonly commands: string[] = [];
  async run(t: SshTarget, command: string, _o?: RunOptions): Promise<CommandResult> {
    const ns = NS[t.name];
    if (!ns) throw new Error(`connect ECONNREFUSED ${t.address}:22`);
    this.commands.push(command);
    return sh(['ip', 'netns', 'exec', ns, 'sh', '-c', command]);
  }
  async pushFile(): Promise<PushResult> {
    throw new Error('the parity check must not write');
  }
  async readFile(): Promise<Buffer | undefined> {
    return undefined;
  }
  async close(): Promise<void> {}
}

let dir = '';
const procs: ChildProcess[] = [];

async function startScheduler(host: string, flags: string[]): Promise<ChildProcess> {
  const bin = path.join(kubeBinDir(), 'kube-scheduler');
  const c = spawn('ip', ['netns', 'exec', NS[host]!, bin, `--kubeconfig=${dir}/kc.yaml`, '--secure-port=0', ...flags], { stdio: 'ignore' });
  procs.push(c);
  // `ip netns exec` execs the binary: up when the pid's command line is the scheduler's
  for (let i = 0; i < 100; i++) {
    const cmd = await readFile(`/proc/${c.pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0')[0]?.endsWith('/kube-scheduler')) return c;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`kube-scheduler in ${NS[host]} did not start`);
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

const BASE = ['--leader-elect=false', '--profiling=false', '--kube-api-qps=40'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cpm-parity-'));
  await writeFile(
    `${dir}/kc.yaml`,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  for (const [host, ns] of Object.entries(NS)) {
    await sh(['ip', 'netns', 'add', ns]);
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const addr = host === OLD.name ? OLD.address : NEW.address;
    await sh(['ip', '-n', ns, 'addr', 'add', `${addr}/32`, 'dev', 'lo']);
  }
  await startScheduler(OLD.name, [...BASE, `--bind-address=${OLD.address}`]);
}, 60_000);

afterAll(async () => {
  for (const c of procs) await stop(c);
  for (const ns of Object.values(NS)) await sh(['ip', 'netns', 'del', ns]);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('flag parity of a real kube-scheduler (processes in their own network namespaces)', () => {
  it("the same settings with the host's own address: parity holds, the per-host flag listed", async () => {
    const c = await startScheduler(NEW.name, [...BASE, `--bind-address=${NEW.address}`]);
    try {
      const ops = new NetnsHostOps();
      const p = (await componentParity(ops, plan, { ...NEW }, 'scheduler')) as ParityReport;
      expect(p.against).toBe(OLD.name);
      expect(p.oldFrom).toMatch(new RegExp(`^${OLD.name}: pid \\d+'s command line$`));
      expect(p.newFrom).toBe(`${NEW.name}: pid ${c.pid}'s command line`);
      expect(p.blocking).toEqual([]);
      expect(p.perHost.map((d) => `${d.flag}: ${d.old} → ${d.new}`)).toEqual([`bind-address: ${OLD.address} → ${NEW.address}`]);
      expect(() => assertParity(p)).not.toThrow();
    } finally {
      await stop(c);
    }
  }, 60_000);

  it('a setting lost on the new master is a FlagParityError naming it; the check only reads', async () => {
    const c = await startScheduler(NEW.name, ['--leader-elect=false', '--kube-api-qps=50', `--bind-address=${NEW.address}`]);
    try {
      const ops = new NetnsHostOps();
      const p = (await componentParity(ops, plan, { ...NEW }, 'scheduler')) as ParityReport;
      let err: unknown;
      try {
        assertParity(p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlagParityError);
      expect((err as FlagParityError).differences).toEqual(['--kube-api-qps changed (40 → 50)', '--profiling missing on the new master (old: false)']);
      expect((err as Error).message).toContain(`kube-scheduler on ${NEW.name} does not run with ${OLD.name}'s flags: 2 difference(s) that are not per-host`);
      // read-only: the process scan and nothing else, and both schedulers still run
      expect(ops.commands.every((cmd) => cmd.startsWith('bash -c ') && cmd.includes('/proc'))).toBe(true);
      expect(c.exitCode).toBeNull();
    } finally {
      await stop(c);
    }
  }, 60_000);

  it('no process on the new master and no config file: skipped, said why (not a blocker)', async () => {
    const r = await componentParity(new NetnsHostOps(), plan, { ...NEW }, 'scheduler');
    expect(r).toEqual({ skipped: expect.stringMatching(/flag parity of kube-scheduler on master-1 not checked: .*no kube-scheduler process found/) });
  }, 30_000);
});
