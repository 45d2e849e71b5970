/** `cpmigrate rehearse PLAN.yaml`: run the plan's shape end to end on the lab first (src/rehearse/). */
import { Command, Option } from 'commander';
import type { rehearse } from '../rehearse/run';
import { CliExit, EXIT } from './exit-codes';

type RehearseModule = { rehearse: typeof rehearse };

export function registerRehearseCommand(program: Command): void {
  program
    .command('rehearse')
    .argument('<plan>', 'the plan file to rehearse')
    .description(
      'migrate a lab of the same shape as PLAN (counts, kept and failed masters, strategy, checkpoints) unattended, with the availability probe and the safety monitor; as root, from a source checkout',
    )
    .option('--from-live', "read the old masters' etcd settings over SSH (read-only) and give the lab's old members the same")
    .option('--dry-run', 'print how the plan maps onto the lab, build nothing')
    .addOption(
      new Option('--max-minutes <n>', 'give the migration this long').default('60').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 5) throw new CliExit(EXIT.usage, `--max-minutes ${v}: a whole number of minutes, at least 5`);
        return n;
      }),
    )
    .action(async (file: string, o: { fromLive?: boolean; dryRun?: boolean; maxMinutes: number | string }) => {
      // the lab is dev-only: not in the production image (its dist/ has no lab/, demo/ or chaos/)
      let mod: RehearseModule;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when asked for: the image has no lab
        mod = require('../rehearse/run') as RehearseModule;
      } catch (e) {
        throw new CliExit(
          EXIT.failure,
          `rehearse needs the lab, which this installation does not have (a source checkout has it: npx cpmigrate rehearse …): ${(e as Error).message}`,
        );
      }
      const r = await mod.rehearse(file, {
        fromLive: o.fromLive === true,
        dryRun: o.dryRun === true,
        maxMinutes: Number(o.maxMinutes),
        log: (l) => process.stdout.write(`${l}\n`),
      });
      if (!r.ok) {
        const planRefused = r.rehearsal.problems.length > 0;
        throw new CliExit(planRefused ? EXIT.planInvalid : EXIT.failure, `rehearsal ${planRefused ? 'refused' : 'failed'}:\n  * ${r.problems.join('\n  * ')}`);
      }
    });
}
