/** `cpmigrate plan validate|show FILE`: read-only, touches nothing. */
import type { Command } from 'commander';
import { loadPlan, PlanError, formatIssues } from '../plan/load';
import { planWarnings } from '../plan/semantic';
import { kubeletCoverage, migrationSteps, shapeProjection } from '../plan/steps';
import { countKubeletNodes, type KubeletNodeCount } from './plan-nodes';
import { writeFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { sshHostOps } from '../lib/ssh';
import { draftPlan } from './plan-init';
import { liveDiffs, type LiveDiff } from './plan-live';
import { renderPlanShow } from './plan-show';
import { outputOption, type OutputOpts } from './options';

export type { OutputOpts } from './options';

/** Load a plan or exit with the plan's exit code and every issue printed. */
export async function loadPlanOrExit(file: string, json = false): Promise<Awaited<ReturnType<typeof loadPlan>>> {
  try {
    const plan = await loadPlan(file);
    for (const w of planWarnings(plan)) process.stderr.write(`warning: ${w.path}: ${w.message}${w.hint ? ` (${w.hint})` : ''}\n`);
    return plan;
  } catch (err) {
    if (err instanceof PlanError) {
      if (json) process.stdout.write(`${JSON.stringify({ valid: false, file, kind: err.kind, issues: err.issues }, null, 2)}\n`);
      else
        process.stderr.write(
          `plan ${file} is ${err.kind === 'invalid' ? 'invalid' : err.kind}: ${err.issues.length} problem(s)\n${formatIssues(err.issues)}\n`,
        );
      process.exit(err.exitCode);
    }
    throw err;
  }
}

export function registerPlanCommands(program: Command): void {
  const plan = program.command('plan').description('validate and explain a migration plan (read-only)');
  plan
    .command('validate')
    .argument('<file>', 'plan file (YAML or JSON)')
    .addOption(outputOption())
    .description('check a plan: every error at once with its field path and a hint; exits 2 invalid, 3 unreadable, 4 bad syntax')
    .action(async (file: string, opts: OutputOpts) => {
      const p = await loadPlanOrExit(file, opts.output === 'json');
      const steps = migrationSteps(p);
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify({ valid: true, file, cluster: p.cluster, steps: steps.length, kubeletCheck: kubeletCoverage(p) }, null, 2)}\n`);
        return;
      }
      const gates = steps.filter((s) => s.kind === 'checkpoint').map((s) => s.key.replace('checkpoint/', ''));
      process.stdout.write(
        `plan ${file} is valid: cluster ${p.cluster}, ${p.oldMasters.map((h) => h.name).join(', ')} → ${p.newMasters.map((h) => h.name).join(', ')}, ` +
          `${steps.length} steps, checkpoints: ${gates.join(', ') || 'none'}\n` +
          `preflight checks the kubelet kubeconfig on ${kubeletCoverage(p)} (\`plan show --live\` counts them)\n`,
      );
    });
  plan
    .command('init')
    .requiredOption('--kubeconfig <path>', 'admin kubeconfig of the live cluster')
    .requiredOption('--etcd-endpoints <urls>', 'comma-separated etcd client URLs')
    .option('--etcd-ca <path>', 'etcd client TLS: CA')
    .option('--etcd-cert <path>', 'etcd client TLS: certificate')
    .option('--etcd-key <path>', 'etcd client TLS: key')
    .option('--cluster <name>', 'cluster name (default: the kubeconfig cluster name)')
    .option('--out <file>', 'write the draft here instead of stdout')
    .addOption(outputOption('text (the YAML draft) or json ({ plan, found, warnings, wrote })'))
    .description('draft a plan from the live cluster; only the new masters and access details are left to fill')
    .action(
      async (
        opts: OutputOpts & { kubeconfig: string; etcdEndpoints: string; etcdCa?: string; etcdCert?: string; etcdKey?: string; cluster?: string; out?: string },
      ) => {
        const tls = opts.etcdCa && opts.etcdCert && opts.etcdKey ? { caFile: opts.etcdCa, certFile: opts.etcdCert, keyFile: opts.etcdKey } : undefined;
        const r = await draftPlan({
          kubeconfig: opts.kubeconfig,
          etcdEndpoints: opts.etcdEndpoints
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          etcdTls: tls,
          cluster: opts.cluster,
        });
        if (opts.out)
          await writeFile(opts.out, r.yaml, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
            throw new Error(e.code === 'EEXIST' ? `${opts.out} exists: not overwriting it` : e.message);
          });
        if (opts.output === 'json') {
          process.stdout.write(
            `${JSON.stringify({ plan: parseYaml(r.yaml) as unknown, found: r.found, warnings: r.warnings, ...(opts.out ? { wrote: opts.out } : {}) }, null, 2)}\n`,
          );
          return;
        }
        if (!opts.out) process.stdout.write(r.yaml);
        process.stderr.write(
          `found ${r.found.masters.length} control-plane nodes (${r.found.masters.join(', ')}), ${r.found.etcdMembers.length} etcd members, LB ${r.found.lb ?? 'unknown'}\n`,
        );
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        if (opts.out) process.stderr.write(`wrote ${opts.out}; fill in the TODOs, then: npx cpmigrate plan validate ${opts.out}\n`);
      },
    );
  plan
    .command('render')
    .argument('<file>', 'plan file (YAML or JSON)')
    .description('print the workflow input {"plan": ...} as JSON, for `temporal workflow start --input-file`')
    .action(async (file: string) => {
      const p = await loadPlanOrExit(file);
      process.stdout.write(`${JSON.stringify({ plan: p })}\n`);
    });
  plan
    .command('show')
    .argument('<file>', 'plan file (YAML or JSON)')
    .addOption(outputOption())
    .option('--live', 'connect to the hosts (read-only) and diff the files the migration would write against the live ones')
    .description('print step by step and host by host what the migration will do')
    .action(async (file: string, opts: OutputOpts & { live?: boolean }) => {
      const p = await loadPlanOrExit(file, opts.output === 'json');
      const steps = migrationSteps(p);
      let diffs: LiveDiff[] | undefined;
      let nodes: KubeletNodeCount | undefined;
      if (opts.live) {
        const ops = sshHostOps();
        try {
          diffs = await liveDiffs(p, ops);
          nodes = await countKubeletNodes(p);
        } finally {
          await ops.close();
        }
      }
      if (opts.output === 'json') {
        process.stdout.write(
          `${JSON.stringify({ cluster: p.cluster, shape: shapeProjection(p), steps, kubeletCheck: nodes ?? kubeletCoverage(p), ...(diffs ? { liveDiffs: diffs } : {}) }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(`${renderPlanShow(p, steps)}\n`);
      if (nodes) process.stdout.write(`\nKubelet kubeconfigs preflight will check: ${nodes.summary}\n`);
      if (diffs) {
        process.stdout.write('\nFiles the migration will write (diff against the live hosts):\n');
        for (const d of diffs) {
          if (d.error) process.stdout.write(`  ${d.host}:${d.file}: cannot compute (${d.error})\n`);
          else if (!d.changed) process.stdout.write(`  ${d.host}:${d.file}: unchanged\n`);
          else process.stdout.write(`${d.diff ?? ''}\n`);
        }
      }
    });
}
