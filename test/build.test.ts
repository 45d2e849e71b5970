/**
 * `npm run build` is the shipped program: tsc compiles src/ to dist/, and the
 * result runs on plain node (no tsx): the CLI answers, the worker loads every
 * module and fails only on the unreachable server, and the workflow bundle
 * builds from the compiled workflows. Built into a scratch copy so the
 * checkout's own dist/ is left alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowCodeOption } from '../src/workflow-bundle';

const ROOT = path.join(__dirname, '..');
const out = mkdtempSync(path.join(os.tmpdir(), 'cpm-build-'));
const dist = path.join(out, 'dist');

beforeAll(() => {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', dist], {
    cwd: ROOT,
    stdio: 'pipe',
  });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(out, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
}, 600_000);

/** plain node, and no way to load TypeScript */
const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, args, { cwd: out, encoding: 'utf8', env: { PATH: process.env.PATH, NODE_OPTIONS: '', ...env }, timeout: 120_000 });

describe('npm run build', () => {
  it('compiles src/ to dist/ (client, worker, workflows; no .ts inside)', () => {
    for (const f of ['client.js', 'worker.js', 'workflows/index.js', 'cli/exit-codes.js']) expect(existsSync(path.join(dist, f)), f).toBe(true);
    expect(spawnSync('find', [dist, '-name', '*.ts'], { encoding: 'utf8' }).stdout.trim()).toBe('');
  });

  it('the CLI runs from dist/ with plain node: --version, validate a plan, exit codes', () => {
    const version = node([path.join(dist, 'client.js'), '--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const ok = node([path.join(dist, 'client.js'), 'plan', 'validate', path.join(ROOT, 'examples', 'plan.yaml')]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('is valid');
    const bad = node([path.join(dist, 'client.js'), 'plan', 'validate', path.join(ROOT, 'examples', 'plan.yaml'), '--output', 'yaml']);
    expect(bad.status).toBe(64);
  });

  it('the worker starts from dist/ and stops only at the unreachable server', () => {
    const w = node([path.join(dist, 'worker.js')], { TEMPORAL_ADDRESS: '127.0.0.1:9' });
    expect(w.status).toBe(1);
    expect(w.stderr).toContain('cannot reach Temporal at 127.0.0.1:9');
  });

  it('the workflow bundle builds from the compiled workflows (`node dist/workflow-bundle.js FILE`, as the image does)', () => {
    const file = path.join(out, 'workflow-bundle.js');
    const b = node([path.join(dist, 'workflow-bundle.js'), file]);
    expect(b.status, b.stderr).toBe(0);
    const code = readFileSync(file, 'utf8');
    expect(code).toContain('migrateControlPlane');
    expect(code).toContain('breakClusterLock');
    // a worker given the bundle loads it and stops only at the unreachable server; a missing bundle is named
    const w = node([path.join(dist, 'worker.js')], { TEMPORAL_ADDRESS: '127.0.0.1:9', CPM_WORKFLOW_BUNDLE: file });
    expect(w.stderr).toContain('cannot reach Temporal at 127.0.0.1:9');
    expect(workflowCodeOption({ CPM_WORKFLOW_BUNDLE: file })).toEqual({ workflowBundle: { codePath: file } });
    expect(() => workflowCodeOption({ CPM_WORKFLOW_BUNDLE: `${file}.missing` })).toThrow(
      /CPM_WORKFLOW_BUNDLE=.*missing: no such file; build it with `npm run build:bundle`/,
    );
    expect(workflowCodeOption({})).toHaveProperty('workflowsPath');
  });
});
