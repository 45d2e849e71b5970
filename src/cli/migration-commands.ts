/** `cpmigrate start|status|approve|abort|pause|resume|list`: talk to the workflow. */
import { Argument, type Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { GATES, type GateId } from '../plan/schema';
import { CpmCluster, CpmPendingGate, CpmStep } from '../search-attributes';
import { TASK_QUEUE, WORKFLOW_TYPE, abortSignal, approveUpdate, pauseSignal, resumeSignal, statusQuery, workflowIdFor, type MigrationInput } from '../shared';
import { connectClient, resolveId, searchAttributesRegistered } from './connect';
import { renderStatus } from './format';
import { watch } from './watch';
import { loadPlanOrExit } from './plan-commands';
import { EXIT } from './exit-codes';
import { durationOption, operatorName as me, outputOption, type OutputOpts } from './options';
import { sleep } from '../lib/sleep';

async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient();
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function registerMigrationCommands(program: Command): void {
  program
    .command('start')
    .argument('<file>', 'plan file')
    .addOption(outputOption())
    .option(
      '--resume',
      'the cluster is part-way through an earlier run of this plan (its workflow was terminated or lost): re-run every step idempotently, only forward',
    )
    .description('validate the plan, then start the migration (one per cluster at a time)')
    .action(async (file: string, opts: OutputOpts & { resume?: boolean }) => {
      const plan = await loadPlanOrExit(file, opts.output === 'json');
      const workflowId = workflowIdFor(plan.cluster);
      await withClient(async (client) => {
        const sa = await searchAttributesRegistered(client);
        const input: MigrationInput = { plan, features: { searchAttributes: sa, ...(opts.resume ? { resume: true } : {}) } };
        try {
          const handle = await client.workflow.start(WORKFLOW_TYPE, {
            taskQueue: TASK_QUEUE,
            workflowId,
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            staticSummary: `cpmigrate ${plan.cluster}: ${plan.oldMasters.map((h) => h.name).join(',')} → ${plan.newMasters.map((h) => h.name).join(',')}`,
            staticDetails: `Control-plane migration of **${plan.cluster}**.\n\nOld masters: ${plan.oldMasters.map((h) => `${h.name} (${h.address})`).join(', ')}\n\nNew masters: ${plan.newMasters.map((h) => `${h.name} (${h.address})`).join(', ')}\n\nVIP: ${plan.loadBalancer.vip}:${plan.loadBalancer.port}`,
            ...(sa ? { typedSearchAttributes: [{ key: CpmCluster, value: plan.cluster }] } : {}),
          });
          print(
            opts.output === 'json',
            { workflowId, runId: handle.firstExecutionRunId, searchAttributes: sa },
            `started ${workflowId} (run ${handle.firstExecutionRunId})\n  watch:  npx cpmigrate status ${workflowId}${sa ? '' : '\n  note: cpmigrate search attributes are not registered on this namespace; see README (Production)'}`,
          );
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            process.stderr.write(
              `refused: a migration of cluster ${plan.cluster} is already running as ${workflowId}; see \`cpmigrate status ${workflowId}\`\n`,
            );
            process.exit(EXIT.alreadyRunning);
          }
          throw err;
        }
      });
    });

  program
    .command('status')
    .argument('<id>', 'workflow id or cluster name')
    .addOption(outputOption())
    .description('current step, completed steps with times and summaries, pending checkpoint, last error')
    .action(async (id: string, opts: OutputOpts) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(resolveId(id));
        const [status, desc] = await Promise.all([handle.query(statusQuery), handle.describe()]);
        if (desc.status.name !== 'RUNNING' && status.state === 'running') status.state = desc.status.name === 'COMPLETED' ? 'completed' : 'failed';
        print(opts.output === 'json', { ...status, execution: desc.status.name }, `${renderStatus(status)}\nexecution: ${desc.status.name}`);
      });
    });

  program
    .command('approve')
    .argument('<id>', 'workflow id or cluster name')
    .addArgument(new Argument('<gate>', 'the pending checkpoint').choices(GATES))
    .option('--by <name>', 'who approves', me())
    .option('--reason <text>', 'why (ticket, note)')
    .option(
      '--ack <ref>',
      'decommission: acknowledge a reference to an old master listed in the checkpoint details (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--evidence <digest>',
      "the evidence digest you read (status shows it; its first 12 characters do): rejected if the checkpoint's evidence is another by now (default: the pending one, read just before approving)",
    )
    .addOption(outputOption())
    .description('approve the pending checkpoint (synchronous: rejected if it is not the pending one, or its evidence is not the one approved)')
    .action(async (id: string, gate: string, opts: OutputOpts & { by: string; reason?: string; ack: string[]; evidence?: string }) => {
      await withClient(async (client) => {
        const handle = client.workflow.getHandle(resolveId(id));
        try {
          // the evidence approved: the one given, else the pending checkpoint's as read right now
          const pending = opts.evidence ? undefined : (await handle.query(statusQuery)).pendingCheckpoint;
          const digest =
            opts.evidence?.toLowerCase() ?? (pending?.gate === gate && pending.evidence && !pending.evidence.unreadable ? pending.evidence.digest : undefined);
          const rec = await handle.executeUpdate(approveUpdate, {
            args: [
              {
                gate: gate as GateId,
                by: opts.by,
                reason: opts.reason,
                ...(opts.ack.length ? { ack: opts.ack } : {}),
                ...(digest ? { evidenceDigest: digest } : {}),
              },
            ],
          });
          print(
            opts.output === 'json',
            rec,
            `approved ${rec.gate} by ${rec.by} at ${rec.at}${rec.ack?.length ? `, acknowledging ${rec.ack.join(', ')}` : ''}${rec.evidenceDigest ? `, evidence ${rec.evidenceDigest.slice(0, 12)}` : ''}`,
          );
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) {
            process.stderr.write(`rejected: ${err.cause?.message ?? err.message}\n`);
            process.exit(EXIT.approvalRejected);
          }
          throw err;
        }
      });
    });

  program
    .command('abort')
    .argument('<id>', 'workflow id or cluster name')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <name>', 'who aborts', me())
    .option('--rollback', 'undo completed steps newest first (refused after the point of no return)')
    .addOption(outputOption())
    .description(
      'stop the migration (at the next step boundary or before the next irreversible change); before the point of no return only: after it the abort is refused and the migration pauses',
    )
    .action(async (id: string, opts: OutputOpts & { reason: string; by: string; rollback?: boolean }) => {
      await withClient(async (client) => {
        const request = { reason: opts.reason, by: opts.by, rollback: opts.rollback === true };
        const handle = client.workflow.getHandle(resolveId(id));
        await handle.signal(abortSignal, request);
        // the signal is asynchronous: read back how the workflow took it (bounded)
        let outcome: 'accepted' | 'refused' | 'unknown' = 'unknown';
        let detail = '';
        for (let i = 0; i < 20 && outcome === 'unknown'; i++) {
          const s = await handle.query(statusQuery).catch(() => undefined);
          if (s?.abortRefused) [outcome, detail] = ['refused', s.abortRefused];
          else if (s?.abortReason) [outcome, detail] = ['accepted', `aborting: ${s.abortReason}${request.rollback ? ' (rolling back completed steps)' : ''}`];
          else await sleep(250);
        }
        print(
          opts.output === 'json',
          { workflowId: resolveId(id), signal: 'abort', ...request, outcome, detail },
          outcome === 'unknown' ? `abort sent to ${resolveId(id)}; see \`cpmigrate status\`` : `${outcome}: ${detail}`,
        );
        if (outcome === 'refused') process.exitCode = EXIT.abortRefused;
      });
    });

  for (const [name, sig, what] of [
    ['pause', pauseSignal, 'hold before the next step'],
    ['resume', resumeSignal, 'continue after a pause, or retry a step that failed'],
  ] as const) {
    program
      .command(name)
      .argument('<id>', 'workflow id or cluster name')
      .option('--by <name>', 'who', me())
      .addOption(outputOption())
      .description(what)
      .action(async (id: string, opts: OutputOpts & { by: string }) => {
        await withClient(async (client) => {
          await client.workflow.getHandle(resolveId(id)).signal(sig, { by: opts.by });
          print(opts.output === 'json', { workflowId: resolveId(id), signal: name, by: opts.by }, `${name} sent to ${resolveId(id)}`);
        });
      });
  }

  program
    .command('watch')
    .argument('<id>', 'workflow id or cluster name')
    .addOption(outputOption('text or json (one object per change)'))
    .addOption(durationOption('--interval <duration>', 'poll interval', '1s', 200))
    .addOption(durationOption('--max <duration>', 'stop watching after this long', '24h', 1))
    .description('live progress until the migration ends (progress bar on a TTY, plain lines otherwise)')
    .action(async (id: string, opts: OutputOpts & { interval: number; max: number }) => {
      await withClient(async (client) => {
        const frame = await watch(client, client.workflow.getHandle(resolveId(id)), {
          json: opts.output === 'json',
          intervalMs: opts.interval,
          maxMs: opts.max,
        });
        if (frame.execution !== 'COMPLETED' && frame.execution !== 'RUNNING') process.exitCode = EXIT.migrationNotCompleted;
      });
    });

  program
    .command('list')
    .addOption(outputOption())
    .description('migrations and their states')
    .action(async (opts: OutputOpts) => {
      await withClient(async (client) => {
        const rows: Array<{ workflowId: string; cluster?: string; status: string; step?: string; pendingGate?: string; start: string; close?: string }> = [];
        for await (const w of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) {
          const gate = w.typedSearchAttributes.get(CpmPendingGate);
          rows.push({
            workflowId: w.workflowId,
            cluster: w.typedSearchAttributes.get(CpmCluster),
            status: w.status.name,
            step: w.typedSearchAttributes.get(CpmStep),
            pendingGate: gate && gate !== 'none' ? gate : undefined,
            start: w.startTime.toISOString(),
            close: w.closeTime?.toISOString(),
          });
          if (rows.length >= 500) break;
        }
        const text = rows
          .map((r) =>
            `${r.workflowId.padEnd(40)} ${r.status.padEnd(11)} ${(r.step ?? '').padEnd(32)} ${r.pendingGate ? `waits for ${r.pendingGate}` : ''}`.trimEnd(),
          )
          .join('\n');
        print(opts.output === 'json', rows, text || 'no migrations');
      });
    });
}
