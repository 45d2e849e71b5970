/**
 * Where a worker gets its workflow code: a prebuilt bundle (CPM_WORKFLOW_BUNDLE,
 * written by `writeWorkflowBundle` / `npm run build:bundle`) or the workflow
 * sources, bundled by the worker at start. A prebuilt bundle makes a worker
 * start in a second or two instead of spending 5–20 s in webpack, which is what
 * a replacement worker in the fault matrix (or a rolling worker restart)
 * waits for.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';

export const WORKFLOW_BUNDLE_ENV = 'CPM_WORKFLOW_BUNDLE';

export function workflowSourcePath(): string {
  return path.join(__dirname, 'workflows', __filename.endsWith('.ts') ? 'index.ts' : 'index.js');
}

/** The worker's workflow option: the bundle named by CPM_WORKFLOW_BUNDLE, else the sources. */
export function workflowCodeOption(env: NodeJS.ProcessEnv = process.env): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const codePath = env[WORKFLOW_BUNDLE_ENV];
  if (!codePath) return { workflowsPath: workflowSourcePath() };
  if (!existsSync(codePath)) {
    throw new Error(
      `${WORKFLOW_BUNDLE_ENV}=${codePath}: no such file; build it with \`npm run build:bundle\`, or unset ${WORKFLOW_BUNDLE_ENV} to bundle the sources at start`,
    );
  }
  return { workflowBundle: { codePath } };
}

/** Bundle the workflow sources once into `file` (for workers started with CPM_WORKFLOW_BUNDLE=file). */
export async function writeWorkflowBundle(file: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowSourcePath(), logger: quietLogger });
  writeFileSync(file, code);
  return file;
}

/** webpack's progress stays out of the demo's output; warnings and errors still show */
const quietLogger = new DefaultLogger('WARN', (e) => process.stderr.write(`workflow bundle: ${e.message}\n`));

if (require.main === module) {
  const out = process.argv[2] ?? path.join(__dirname, '..', 'dist', 'workflow-bundle.js');
  writeWorkflowBundle(out).then(
    (f) => process.stdout.write(`workflow bundle written to ${f} (start workers with ${WORKFLOW_BUNDLE_ENV}=${f})\n`),
    (err: Error) => {
      process.stderr.write(`workflow bundle: ${err.message}\n`);
      process.exit(1);
    },
  );
}
