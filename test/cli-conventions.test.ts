/**
 * The CLI's conventions, in process (test:fast): every exit code has one
 * meaning and is documented in --help and the README, --version is
 * package.json's, completion scripts are generated from the command tree and
 * complete it, colour follows --no-color / NO_COLOR / FORCE_COLOR, durations
 * take units. test/cli-exit-codes.test.ts runs the CLI itself.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/client';
import { bashCompletion, zshCompletion } from '../src/cli/completion';
import { EXIT, exitCodesHelp } from '../src/cli/exit-codes';
import { colorEnabled } from '../src/cli/format';
import { durationArg } from '../src/cli/options';

const ROOT = path.join(__dirname, '..');
describe('exit codes', () => {
  it('each has one meaning, listed by --help and in the README', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    const table = exitCodesHelp();
    for (const c of codes) expect(table).toMatch(new RegExp(`^\\s+${c}\\s+\\S`, 'm'));
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const line of table.split('\n').slice(1)) {
      const [, code = '', what = ''] = /^\s*(\d+)\s+(.*)$/.exec(line) ?? [];
      expect(readme, `README row for exit code ${code}`).toContain(`| ${code} | ${what} |`);
    }
  });
});

describe('--version', () => {
  it("is package.json's", () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(buildProgram().version()).toBe(version);
  });
});

describe('shell completion', () => {
  const bash = bashCompletion(buildProgram());

  function complete(words: string[]): string[] {
    const script = `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _cpmigrate; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').filter(Boolean);
  }

  it('bash: commands, subcommands, option values and checkpoint names', () => {
    expect(spawnSync('bash', ['-n'], { input: bash }).status).toBe(0);
    expect(complete(['cpmigrate', 'st'])).toEqual(['start', 'status']);
    expect(complete(['cpmigrate', 'plan', 'v'])).toEqual(['validate']);
    expect(complete(['cpmigrate', 'plan', 'show', '--output', ''])).toEqual(['text', 'json']);
    expect(complete(['cpmigrate', 'approve', 'c1', 'sw'])).toEqual(['switch-traffic']);
    expect(complete(['cpmigrate', 'watch', 'c1', '--int'])).toEqual(['--interval']);
    expect(complete(['cpmigrate', '--address', 'x:1', 'lo'])).toEqual(['lock']);
  });

  it('zsh: a valid script naming every command', () => {
    const zsh = zshCompletion(buildProgram());
    for (const c of buildProgram().commands) expect(zsh).toContain(`"${c.name()}")`);
    const hasZsh = spawnSync('zsh', ['--version']).status === 0;
    if (hasZsh) expect(spawnSync('zsh', ['-n'], { input: zsh }).status).toBe(0);
  });
});

describe('colour and durations', () => {
  it('--no-color and NO_COLOR turn colour off, FORCE_COLOR on, a terminal decides otherwise', () => {
    expect(colorEnabled({}, [], true)).toBe(true);
    expect(colorEnabled({}, [], false)).toBe(false);
    expect(colorEnabled({}, ['--no-color'], true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, [], true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, [], false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, [], false)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, [], false)).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' }, [], true)).toBe(false);
  });

  it('every duration takes a unit', () => {
    expect(durationArg('300ms')).toBe(300);
    expect(durationArg('2m')).toBe(120_000);
    expect(() => durationArg('300')).toThrow(/invalid duration/);
  });
});
