/**
 * lib/applied withStamp on a real shell: the stamp is written by the same
 * command as the (re)start, only when it succeeds, 0600, atomically; the
 * plan's command may end in `&` or a comment.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stampPathOf, withStamp, type AppliedState } from '../src/lib/applied';

const dir = mkdtempSync(path.join(tmpdir(), 'cpm-applied-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stateFor(name: string): AppliedState {
  return { digest: 'a'.repeat(64), stamp: undefined, stampPath: stampPathOf([path.join(dir, name)]) };
}

describe('withStamp', () => {
  it('writes the stamp (0600) after the command succeeds', () => {
    const s = stateFor('ok.conf');
    execFileSync('bash', ['-c', withStamp(`echo started > ${dir}/ok.out`, s)]);
    expect(readFileSync(s.stampPath, 'utf8')).toBe(`${s.digest}\n`);
    expect(statSync(s.stampPath).mode & 0o777).toBe(0o600);
    expect(existsSync(`${s.stampPath}.tmp`)).toBe(false);
    expect(readFileSync(`${dir}/ok.out`, 'utf8')).toBe('started\n');
  });

  it('leaves the stamp as it was when the command fails, and fails with it', () => {
    const s = stateFor('fail.conf');
    const r = spawnSync('bash', ['-c', withStamp('echo nope >&2; exit 7', s)]);
    expect(r.status).toBe(7);
    expect(existsSync(s.stampPath)).toBe(false);
  });

  it('takes commands that end in `&` or a comment, and compound ones', () => {
    for (const [i, cmd] of ['sleep 0 &', 'true # start it', '(false) || (true)'].entries()) {
      const s = stateFor(`c${i}.conf`);
      execFileSync('bash', ['-c', withStamp(cmd, s)]);
      expect(readFileSync(s.stampPath, 'utf8').trim()).toBe(s.digest);
    }
  });
});
