/**
 * The worker-log secret scan the fault matrix and the e2e run after every lab
 * migration (src/chaos/assess.ts): it must find a secret written as is and
 * JSON-escaped (the worker logs JSON lines), name the file, and count what it
 * read. Pure (temp files only).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretsInLogs, workerLogsIn } from '../src/demo/history-checks';

describe('secretsInLogs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-scan-'));
  const secrets = [
    { what: 'a PEM private key', text: 'PRIVATE KEY-----' },
    { what: 'the content of /etc/vrrp.pass', text: 'vrrp"pass\\1' },
    { what: 'the kubeconfig token', text: 'abcdef.0123456789abcdef' },
  ];
  writeFileSync(path.join(dir, 'worker-1.log'), '{"msg":"activity completed","summary":"written"}\n');
  writeFileSync(path.join(dir, 'worker-2.log'), `${JSON.stringify({ msg: 'oops', detail: 'vrrp"pass\\1' })}\n`);
  writeFileSync(path.join(dir, 'worker-10.log'), 'plain -----BEGIN PRIVATE KEY-----\n');
  writeFileSync(path.join(dir, 'other.log'), 'abcdef.0123456789abcdef\n');

  it('lists only worker-N.log files', () => {
    expect(workerLogsIn(dir).map((f) => path.basename(f))).toEqual(['worker-1.log', 'worker-10.log', 'worker-2.log']);
    expect(workerLogsIn(path.join(dir, 'nope'))).toEqual([]);
  });

  it('finds a secret as is and JSON-escaped, names the file, and says how much it read', () => {
    const r = secretsInLogs(workerLogsIn(dir), secrets);
    expect(r.leaks.sort()).toEqual(['a PEM private key (in worker-10.log)', 'the content of /etc/vrrp.pass (in worker-2.log)']);
    expect(r.bytes).toBeGreaterThan(80);
    expect(secretsInLogs([path.join(dir, 'worker-1.log')], secrets)).toEqual({ leaks: [], bytes: 49 });
  });
});
