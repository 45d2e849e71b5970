/**
 * SshHostOps and the SSH activities against a real OpenSSH server on 127.0.2.1.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshActivities } from '../src/activities/ssh';
import { HostKeyMismatchError, RemoteCommandError, SshAuthError } from '../src/errors';
import { pushOptionsLike, statPaths } from '../src/lib/file-meta';
import { sha256hex } from '../src/lib/digest';
import { sshFingerprint, SshHostOps } from '../src/lib/ssh';
import type { SshTarget } from '../src/plan/hosts';
import { validatePlan } from '../src/plan/load';
import { freePort, sshKeygen, startSshd, testPlanDoc, type TestSshd } from './support/sshd';

const execFileP = promisify(execFile);
const ADDRESS = '127.0.2.1';

let sshd: TestSshd;
let ops: SshHostOps;
let target: SshTarget;
let files: string;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  sshd = await startSshd({ address: ADDRESS, extraAddresses: ['127.0.2.3', '127.0.2.4', '127.0.2.5', '127.0.2.6'], name: 'master-1' });
  target = sshd.target;
  ops = new SshHostOps();
  files = path.join(sshd.dir, 'files');
  await mkdir(files);
  const t0 = Date.now();
  await ops.run(target, 'true');
  console.log(`[timing] first command incl. connect: ${Date.now() - t0} ms`);
});

afterAll(async () => {
  await ops?.close();
  await sshd?.stop();
});

describe('run', () => {
  it('returns stdout and stderr separately with exit code 0', async () => {
    const t0 = Date.now();
    const r = await ops.run(target, 'echo out; echo err >&2; printf "x\\ny"');
    console.log(`[timing] command on pooled connection: ${Date.now() - t0} ms`);
    expect(r).toEqual({ stdout: 'out\nx\ny', stderr: 'err\n', exitCode: 0 });
  });

  it('throws RemoteCommandError naming host, command and the stderr tail on non-zero exit', async () => {
    const cmd = 'for i in $(seq 1 100); do echo "line $i" >&2; done; exit 3';
    const e = await rejection(ops.run(target, cmd));
    expect(e).toBeInstanceOf(RemoteCommandError);
    const rc = e as RemoteCommandError;
    expect(rc.host).toBe('master-1');
    expect(rc.exitCode).toBe(3);
    expect(rc.command).toBe(cmd);
    expect(rc.message).toContain('master-1');
    expect(rc.message).toContain(cmd);
    expect(rc.message).toContain('exited 3');
    expect(rc.stderrTail).toContain('line 100');
    expect(rc.stderrTail).toContain('line 81');
    expect(rc.stderrTail).not.toContain('line 80\n');
    expect(rc.stderrTail.split('\n')).toHaveLength(20);
  });

  it('returns the result instead of throwing with allowFailure', async () => {
    const r = await ops.run(target, 'echo nope >&2; exit 7', { allowFailure: true });
    expect(r).toEqual({ stdout: '', stderr: 'nope\n', exitCode: 7 });
  });

  it('kills the command and says so when it times out', async () => {
    const marker = `sleep 30.${Math.floor(Math.random() * 1e6)}`;
    const t0 = Date.now();
    const e = await rejection(ops.run(target, `${marker}; echo after`, { timeoutMs: 500 }));
    const took = Date.now() - t0;
    expect(e.message).toMatch(/timed out after 500 ms/);
    expect(e.message).toContain('master-1');
    expect(took).toBeLessThan(5000);
    // the remote process is gone (sshd delivers the KILL to the session's process group)
    const pattern = marker.replace('.', '[.]');
    let alive = true;
    for (let i = 0; i < 30 && alive; i++) {
      alive = await execFileP('pgrep', ['-f', pattern]).then(
        () => true,
        () => false,
      );
      if (alive) await sleep(100);
    }
    expect(alive).toBe(false);
    // the connection is still usable
    expect((await ops.run(target, 'echo ok')).stdout).toBe('ok\n');
  });

  it('feeds input to stdin (text and binary)', async () => {
    expect((await ops.run(target, 'cat', { input: 'hello\nworld' })).stdout).toBe('hello\nworld');
    const bin = randomBytes(300_000);
    const r = await ops.run(target, 'sha256sum | cut -c1-64', { input: bin });
    expect(r.stdout.trim()).toBe(sha256hex(bin));
  });

  it('reuses one connection for many commands, sequential and concurrent', async () => {
    const own = new SshHostOps();
    const before = sshd.acceptedLogins();
    try {
      for (let i = 0; i < 5; i++) await own.run(target, `echo ${i}`);
      const many = await Promise.all(Array.from({ length: 12 }, (_, i) => own.run(target, `echo ${i}`)));
      expect(many.map((r) => r.stdout)).toEqual(Array.from({ length: 12 }, (_, i) => `${i}\n`));
      expect(own.stats.connections).toBe(1);
      expect(own.stats.commands).toBe(17);
      expect(own.openConnections).toBe(1);
      // sshd saw exactly one login for all of them
      for (let i = 0; i < 20 && sshd.acceptedLogins() === before; i++) await sleep(50);
      expect(sshd.acceptedLogins() - before).toBe(1);
      // close() ends it; the next call reconnects
      await own.close();
      expect(own.openConnections).toBe(0);
      await own.run(target, 'true');
      expect(own.stats.connections).toBe(2);
    } finally {
      await own.close();
    }
  });
});

describe('files', () => {
  it('pushFile writes, then is a no-op for the same content, then backs up and replaces', async () => {
    const p = path.join(files, 'deep', 'dir', 'a.conf');
    const t0 = Date.now();
    const first = await ops.pushFile(target, p, 'one\n', { mode: 0o640 });
    console.log(`[timing] pushFile (new file): ${Date.now() - t0} ms`);
    expect(first).toEqual({ path: p, changed: true, sha256: sha256hex('one\n') });
    expect(await readFile(p, 'utf8')).toBe('one\n');
    expect((await stat(p)).mode & 0o7777).toBe(0o640);
    const st1 = await stat(p);

    const t1 = Date.now();
    const again = await ops.pushFile(target, p, 'one\n', { mode: 0o640, backup: true });
    console.log(`[timing] pushFile (unchanged): ${Date.now() - t1} ms`);
    expect(again.changed).toBe(false);
    expect(again.backupPath).toBeUndefined();
    const st2 = await stat(p);
    expect(st2.ino).toBe(st1.ino);
    expect(st2.mtimeMs).toBe(st1.mtimeMs);

    const t2 = Date.now();
    const changed = await ops.pushFile(target, p, Buffer.from('two\n'), { mode: 0o600, backup: true });
    console.log(`[timing] pushFile (changed, with backup): ${Date.now() - t2} ms`);
    const bak = `${p}.cpmigrate-bak-${sha256hex('one\n').slice(0, 8)}`;
    expect(changed).toEqual({ path: p, changed: true, sha256: sha256hex('two\n'), backupPath: bak });
    expect(await readFile(p, 'utf8')).toBe('two\n');
    expect(await readFile(bak, 'utf8')).toBe('one\n');
    expect((await stat(p)).mode & 0o7777).toBe(0o600);
    expect((await stat(bak)).mode & 0o7777).toBe(0o640);
    // replaced by rename (new inode), no temp file left behind
    expect((await stat(p)).ino).not.toBe(st1.ino);
    expect((await readdir(path.dirname(p))).sort()).toEqual([path.basename(bak), 'a.conf'].sort());
  });

  it('pushFile fixes a drifted mode without rewriting, and keeps the mode when none is given', async () => {
    const p = path.join(files, 'mode.conf');
    await writeFile(p, 'same\n', { mode: 0o644 });
    const ino = (await stat(p)).ino;
    const r = await ops.pushFile(target, p, 'same\n', { mode: 0o600 });
    expect(r.changed).toBe(true);
    expect((await stat(p)).mode & 0o7777).toBe(0o600);
    expect((await stat(p)).ino).toBe(ino);
    await ops.pushFile(target, p, 'other\n');
    expect((await stat(p)).mode & 0o7777).toBe(0o600);
  });

  it('pushFile never invents a mode: a new file without one is refused; statPaths + pushOptionsLike carry file and directory metadata', async () => {
    const p = path.join(files, 'nomode', 'x.conf');
    await expect(ops.pushFile(target, p, 'x\n')).rejects.toThrow(/refusing to create .* without a mode/);
    expect(existsSync(p)).toBe(false);
    // a 0600 source in a 0750 directory, owned by nobody:nogroup
    const src = path.join(files, 'srcdir', 'secret.conf');
    await mkdir(path.dirname(src), { mode: 0o750 });
    await chmod(path.dirname(src), 0o750);
    await writeFile(src, 's\n', { mode: 0o600 });
    await chown(src, 65534, 65534);
    await chown(path.dirname(src), 65534, 65534);
    const meta = (await statPaths(ops, target, [src])).get(src);
    expect(meta?.file).toEqual({ mode: 0o600, owner: 'nobody:nogroup' });
    expect(meta?.dir).toEqual({ mode: 0o750, owner: 'nobody:nogroup' });
    const dst = path.join(files, 'dstdir', 'sub', 'secret.conf');
    await ops.pushFile(target, dst, 's\n', pushOptionsLike(meta, undefined, { backup: true }));
    const st = await stat(dst);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o600, 65534, 65534]);
    const dst2 = await stat(path.dirname(dst));
    expect([dst2.mode & 0o7777, dst2.uid]).toEqual([0o750, 65534]);
    // owner drift alone is fixed in place
    await chown(dst, 0, 0);
    const again = await ops.pushFile(target, dst, 's\n', pushOptionsLike(meta));
    expect(again.changed).toBe(true);
    expect((await stat(dst)).uid).toBe(65534);
  });

  it('pushFile is atomic: a reader sees the old or the new file, never a mix', async () => {
    const p = path.join(files, 'big.bin');
    const a = Buffer.alloc(2_000_000, 'a');
    const b = Buffer.alloc(2_000_000, 'b');
    await ops.pushFile(target, p, a, { mode: 0o644 });
    let stop = false;
    let reads = 0;
    const seen = new Set<string>();
    const reader = (async () => {
      while (!stop) {
        const got = await readFile(p);
        reads++;
        if (got.equals(a)) seen.add('a');
        else if (got.equals(b)) seen.add('b');
        else seen.add(`torn(${got.length})`);
        await sleep(2);
      }
    })();
    const t0 = Date.now();
    await ops.pushFile(target, p, b);
    console.log(`[timing] pushFile 2 MB: ${Date.now() - t0} ms (${reads} concurrent reads)`);
    stop = true;
    await reader;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect((await readFile(p)).equals(b)).toBe(true);
  });

  it('readFile returns the bytes, or undefined when the file is missing', async () => {
    const p = path.join(files, 'all-bytes');
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await writeFile(p, bytes);
    expect(await ops.readFile(target, p)).toEqual(bytes);
    expect(await ops.readFile(target, path.join(files, 'nope'))).toBeUndefined();
    const e = await rejection(ops.readFile(target, files));
    expect(e).toBeInstanceOf(RemoteCommandError);
    expect(e.message).toContain('not a regular file');
  });
});

describe('host key and authentication', () => {
  it('refuses a host whose key does not match the pinned fingerprint', async () => {
    const wrong = sshFingerprint(randomBytes(51));
    const own = new SshHostOps();
    try {
      const e = await rejection(own.run({ ...target, hostKeyFingerprint: wrong }, 'true'));
      expect(e).toBeInstanceOf(HostKeyMismatchError);
      expect(e.name).toBe('HostKeyMismatchError');
      const m = e as HostKeyMismatchError;
      expect(m.expected).toBe(wrong);
      expect(m.got).toContain(sshd.fingerprint);
      expect(e.message).toContain(wrong);
      expect(e.message).toContain(sshd.fingerprint);
      expect(own.stats.connections).toBe(0);
    } finally {
      await own.close();
    }
  });

  it('refuses a host with no pin and no known_hosts entry, saying how to pin', async () => {
    const own = new SshHostOps();
    const kh = path.join(sshd.dir, 'known_hosts_empty');
    await writeFile(kh, `# nothing for us\n[127.0.2.99]:22 ${sshd.hostPublicKey}\n`);
    try {
      for (const t of [
        { ...target, hostKeyFingerprint: undefined },
        { ...target, hostKeyFingerprint: undefined, knownHostsPath: kh },
      ]) {
        const e = await rejection(own.run(t, 'true'));
        expect(e.name).toBe('HostKeyMismatchError');
        expect(e.message).toContain(sshd.fingerprint);
        expect(e.message).toContain('hostKeyFingerprint');
        expect(e.message).toMatch(/refusing to connect/);
      }
    } finally {
      await own.close();
    }
  });

  it('accepts a host listed in known_hosts, plain or hashed, and refuses another key there', async () => {
    const name = `[${ADDRESS}]:${sshd.port}`;
    const plain = path.join(sshd.dir, 'known_hosts_plain');
    await writeFile(
      plain,
      `# comment\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n${name},10.0.0.1 ${sshd.hostPublicKey}\n`,
    );
    const hashed = path.join(sshd.dir, 'known_hosts_hashed');
    await writeFile(hashed, `${name} ${sshd.hostPublicKey}\n`);
    await execFileP('ssh-keygen', ['-H', '-f', hashed]);
    expect(await readFile(hashed, 'utf8')).toMatch(/^\|1\|/);
    const own = new SshHostOps();
    try {
      for (const kh of [plain, hashed]) {
        const r = await own.run({ ...target, hostKeyFingerprint: undefined, knownHostsPath: kh }, 'echo known');
        expect(r.stdout).toBe('known\n');
      }
      // known_hosts names this host with a different key: mismatch, expected vs got
      const otherKey = path.join(sshd.dir, 'other_host_key');
      await sshKeygen(otherKey);
      const otherPub = (await readFile(`${otherKey}.pub`, 'utf8')).split(/\s+/).slice(0, 2).join(' ');
      const wrong = path.join(sshd.dir, 'known_hosts_wrong');
      await writeFile(wrong, `${name} ${otherPub}\n`);
      const e = await rejection(own.run({ ...target, hostKeyFingerprint: undefined, knownHostsPath: wrong }, 'true'));
      expect(e).toBeInstanceOf(HostKeyMismatchError);
      const otherFp = sshFingerprint(Buffer.from(otherPub.split(' ')[1] ?? '', 'base64'));
      expect((e as HostKeyMismatchError).expected).toContain(otherFp);
      expect((e as HostKeyMismatchError).got).toContain(sshd.fingerprint);
    } finally {
      await own.close();
    }
  });

  it('refuses a user key the host does not accept, naming the key path', async () => {
    const stranger = path.join(sshd.dir, 'stranger_key');
    await sshKeygen(stranger);
    const own = new SshHostOps();
    try {
      const e = await rejection(own.run({ ...target, privateKeyPath: stranger }, 'true'));
      expect(e).toBeInstanceOf(SshAuthError);
      expect(e.message).toBe(`master-1 refused key ${stranger} for user root (${ADDRESS}:${sshd.port})`);
      const missing = path.join(sshd.dir, 'no-such-key');
      const e2 = await rejection(own.run({ ...target, privateKeyPath: missing }, 'true'));
      expect(e2).toBeInstanceOf(SshAuthError);
      expect(e2.message).toContain(missing);
    } finally {
      await own.close();
    }
  });

  it('reports a refused connection as a plain (retryable) error naming host:port', async () => {
    const port = await freePort(ADDRESS);
    const own = new SshHostOps();
    try {
      const e = await rejection(own.run({ ...target, port }, 'true'));
      expect(e.name).toBe('HostUnreachableError');
      expect(e.message).toContain(`${ADDRESS}:${port}`);
      expect(e.message).toContain('ECONNREFUSED');
    } finally {
      await own.close();
    }
  });
});

describe('ssh activities', () => {
  it('checkSshAccess reports every master: reachable, unreachable, wrong host key, refused key', async () => {
    const closedPort = await freePort('127.0.2.2');
    const doc = testPlanDoc({
      defaultsSsh: { privateKeyPath: sshd.clientKeyPath, port: sshd.port, hostKeyFingerprint: sshd.fingerprint },
      oldMasters: [
        { name: 'oldmaster-1', address: ADDRESS },
        { name: 'oldmaster-2', address: '127.0.2.2', ssh: { port: closedPort } },
        { name: 'oldmaster-3', address: '127.0.2.3', ssh: { hostKeyFingerprint: sshFingerprint(randomBytes(40)) } },
      ],
      newMasters: [
        { name: 'master-1', address: '127.0.2.4' },
        { name: 'master-2', address: '127.0.2.5', ssh: { privateKeyPath: path.join(sshd.dir, 'absent-key') } },
        { name: 'master-3', address: '127.0.2.6' },
      ],
    });
    const v = validatePlan(doc);
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const acts = createSshActivities({ hostOps: () => ops });
    expect(Object.keys(acts)).toEqual(['checkSshAccess']); // no activity takes a shell command

    const t0 = Date.now();
    const access = await acts.checkSshAccess(v.plan);
    console.log(`[timing] checkSshAccess (6 hosts): ${Date.now() - t0} ms; ${access.map((a) => `${a.host}=${a.latencyMs}ms`).join(' ')}`);
    const by = Object.fromEntries(access.map((a) => [a.host, a]));
    expect(access.map((a) => a.host)).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3', 'master-1', 'master-2', 'master-3']);
    expect(by['oldmaster-1']).toMatchObject({ ok: true, side: 'old' });
    expect(by['master-1']).toMatchObject({ ok: true, side: 'new' });
    expect(by['master-3']).toMatchObject({ ok: true });
    expect(by['oldmaster-2']).toMatchObject({ ok: false, errorType: 'HostUnreachableError' });
    expect(by['oldmaster-2']?.error).toContain(`127.0.2.2:${closedPort}`);
    expect(by['oldmaster-3']).toMatchObject({ ok: false, errorType: 'HostKeyMismatchError' });
    expect(by['master-2']).toMatchObject({ ok: false, errorType: 'SshAuthError' });
    for (const a of access) expect(a.latencyMs).toBeGreaterThanOrEqual(0);
  });
});
