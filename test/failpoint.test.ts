/**
 * The failpoint facility: a no-op unless armed; when armed, the process dies
 * with SIGKILL at the point, records it, and a restarted process with the same
 * arming goes on past it; "@" arms each instance; every catalogued name is
 * placed somewhere in src/ (a catalogue entry nobody reaches tests nothing).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILPOINTS, armedBy } from '../src/lib/failpoint';

const ROOT = path.join(__dirname, '..');
const script = `
const { failpoint } = require(${JSON.stringify(path.join(ROOT, 'src/lib/failpoint.ts'))});
process.stdout.write('a;');
failpoint('etcd.join.after-member-add', 'master-1');
process.stdout.write('b;');
failpoint('stop.keepalived.after-stop', 'oldmaster-1');
process.stdout.write('c;');
failpoint('stop.keepalived.after-stop', 'oldmaster-2');
process.stdout.write('d;');
`;

function run(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', cwd: ROOT });
  return { out: r.stdout, signal: r.signal };
}

describe('failpoints', () => {
  it('do nothing unless armed', () => {
    expect(run({ CPM_FAILPOINTS: '' })).toEqual({ out: 'a;b;c;d;', signal: null });
  });

  it('kill the process once per name, and a restarted process goes on', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-fp-'));
    const env = { CPM_FAILPOINTS: 'etcd.join.*,stop.keepalived.after-stop', CPM_FAILPOINT_DIR: dir };
    expect(run(env)).toEqual({ out: 'a;', signal: 'SIGKILL' });
    expect(run(env)).toEqual({ out: 'a;b;', signal: 'SIGKILL' });
    // without "@" a name fires at its first instance only
    expect(run(env)).toEqual({ out: 'a;b;c;d;', signal: null });
    expect(readFileSync(path.join(dir, 'fired'), 'utf8')).toBe('etcd.join.after-member-add\nstop.keepalived.after-stop\n');
  });

  it('with "@" fire once per instance', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-fp-'));
    const env = { CPM_FAILPOINTS: 'stop.keepalived.after-stop@*', CPM_FAILPOINT_DIR: dir };
    expect(run(env).out).toBe('a;b;');
    expect(run(env).out).toBe('a;b;c;');
    expect(run(env)).toEqual({ out: 'a;b;c;d;', signal: null });
  });

  it('globs select catalogue names in order', () => {
    expect(armedBy('etcd.remove.*')).toEqual(['etcd.remove.after-leader-move', 'etcd.remove.after-member-remove', 'etcd.remove.after-stop']);
    expect(armedBy('*')).toHaveLength(Object.keys(FAILPOINTS).length);
  });

  it('every catalogued failpoint is placed in src/', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.includes('failpoint')) files.push(p);
      }
    };
    walk(path.join(ROOT, 'src'));
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    const literal = (n: string) => text.includes(`failpoint('${n}'`);
    // component points are placed through templates: `start.${c}.after-start`
    const templated = (n: string) => {
      const m = /^(config|start|restart|stop)\.(apiserver|loadBalancer|controllerManager|scheduler|keepalived)\.(after-[a-z-]+)$/.exec(n);
      return m !== null && (text.includes(`failpoint(\`${m[1]}.\${c}.${m[3]}\``) || text.includes(`failpoint(\`${m[1]}.\${f.component}.${m[3]}\``));
    };
    const unplaced = Object.keys(FAILPOINTS).filter((n) => !literal(n) && !templated(n));
    expect(unplaced).toEqual([]);
  });
});
