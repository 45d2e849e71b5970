/**
 * `cpmigrate lock break FILE --reason R`: break a cluster lock whose holder
 * workflow no longer runs. It runs the breakClusterLock workflow on the
 * worker (which alone has the cluster's etcd credentials), so the act is
 * recorded in Temporal and, as an audit record, in the cluster's etcd.
 */
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import type { LockBreakResult } from '../activities/types';
import { BREAK_LOCK_WORKFLOW_TYPE, TASK_QUEUE } from '../shared';
import { connectClient } from './connect';
import { loadPlanOrExit } from './plan-commands';
import { EXIT } from './exit-codes';
import { operatorName, outputOption, type OutputOpts } from './options';

export function registerLockCommands(program: Command): void {
  const lock = program.command('lock').description("the per-cluster lock in the cluster's etcd (/cpmigrate/lock/<cluster>)");
  lock
    .command('break')
    .argument('<file>', 'plan file (names the cluster and its etcd)')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <name>', 'who breaks it', operatorName())
    .addOption(outputOption())
    .description('break a stale lock: refused while the workflow holding it still runs (abort that one instead)')
    .action(async (file: string, opts: OutputOpts & { reason: string; by: string }) => {
      const plan = await loadPlanOrExit(file, opts.output === 'json');
      const { client, close } = await connectClient();
      try {
        const workflowId = `cpmigrate-lock-break-${plan.cluster}-${Date.now()}`;
        const result = (await client.workflow.execute(BREAK_LOCK_WORKFLOW_TYPE, {
          taskQueue: TASK_QUEUE,
          workflowId,
          args: [{ plan, by: opts.by, reason: opts.reason }],
          staticSummary: `cpmigrate lock break ${plan.cluster} by ${opts.by}: ${opts.reason}`,
        })) as LockBreakResult;
        process.stdout.write(
          opts.output === 'json' ? `${JSON.stringify({ workflowId, ...result }, null, 2)}\n` : `${result.summary}\n  recorded in workflow ${workflowId}\n`,
        );
      } catch (err) {
        if (err instanceof WorkflowFailedError) {
          const cause = (err.cause as (Error & { cause?: Error }) | undefined)?.cause ?? err.cause;
          process.stderr.write(`refused: ${cause?.message ?? err.message}\n`);
          process.exit(EXIT.lockBreakRefused);
        }
        throw err;
      } finally {
        await close();
      }
    });
}
