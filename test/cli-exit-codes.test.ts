/**
 * The CLI as a process (bin/cpmigrate.js), without a Temporal server: bad
 * command lines are usage errors (64) before anything runs, an unreachable or
 * misconfigured Temporal is 10, --address beats TEMPORAL_ADDRESS, --version is
 * package.json's.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'cpmigrate.js');
const exec = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', TEMPORAL_ADDRESS: '127.0.0.1:1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('cpmigrate exit codes', () => {
  it('a bad --output, an unknown command, a bad checkpoint, a unitless duration: usage (64), nothing run', async () => {
    const [xml, bogus, gate, interval] = await Promise.all([
      cli(['plan', 'validate', 'examples/plan.yaml', '--output', 'xml']),
      cli(['bogus']),
      cli(['approve', 'some-cluster', 'nope']),
      cli(['watch', 'some-cluster', '--interval', '300']),
    ]);
    expect(xml.code).toBe(EXIT.usage);
    expect(xml.stderr).toContain("argument 'xml' is invalid. Allowed choices are text, json");
    expect(bogus.code).toBe(EXIT.usage);
    expect(gate.code).toBe(EXIT.usage);
    expect(gate.stderr).toContain('Allowed choices are preflight-ack');
    expect(interval.code).toBe(EXIT.usage);
    expect(interval.stderr).toContain('invalid duration "300"');
  });

  it('an unreachable Temporal is exit 10; --address beats TEMPORAL_ADDRESS', async () => {
    const r = await cli(['--address', '127.0.0.1:9', 'list']);
    expect(r.code).toBe(EXIT.temporalUnavailable);
    expect(r.stderr).toContain('cannot reach Temporal at 127.0.0.1:9');
    const bad = await cli(['--address', 'no-port', 'list']);
    expect(bad.code).toBe(EXIT.temporalUnavailable);
    expect(bad.stderr).toContain('--address must be host:port');
  });

  it("--version is package.json's", async () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
