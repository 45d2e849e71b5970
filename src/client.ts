/**
 * cpmigrate: the operator CLI.
 *   cpmigrate plan validate|show|init|render FILE
 *   cpmigrate start FILE | status ID | watch ID | approve ID GATE | abort ID --reason R | pause ID | resume ID | list
 *   cpmigrate lock break FILE --reason R
 *   cpmigrate rehearse FILE [--from-live] (on the lab)
 *   cpmigrate completion bash|zsh | dev failpoints
 * Temporal connection: --address/--namespace/--profile, else the environment
 * and the `temporal` CLI's profiles (src/temporal-config.ts). Exit codes: src/cli/exit-codes.ts.
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { bashCompletion, zshCompletion } from './cli/completion';
import { registerDevCommands } from './cli/dev-commands';
import { CliExit, EXIT, exitCodesHelp } from './cli/exit-codes';
import { registerLockCommands } from './cli/lock-commands';
import { registerMigrationCommands } from './cli/migration-commands';
import { registerPlanCommands } from './cli/plan-commands';
import { registerRehearseCommand } from './cli/rehearse-command';
import { setConnectionOverrides } from './temporal-config';
import { cpmigrateVersion } from './version';

/** Commander's own ends: help and version are success, every parse error is a usage error. */
function exitOf(err: CommanderError): number {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
  return EXIT.usage;
}

export function buildProgram(): Command {
  const program = new Command('cpmigrate')
    .description('Migrate a Kubernetes control plane to new masters as a durable Temporal workflow')
    .version(cpmigrateVersion())
    .addOption(new Option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS, the temporal CLI profile, localhost:7233)'))
    .addOption(new Option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, the profile, "default")'))
    .addOption(new Option('--profile <name>', 'profile of the temporal CLI config file (default: TEMPORAL_PROFILE, "default")'))
    .option('--no-color', 'plain output even on a terminal (also NO_COLOR=1; FORCE_COLOR=1 forces colour)')
    .showHelpAfterError()
    .exitOverride((err) => {
      throw new CliExit(exitOf(err) as 0 | 64, '');
    })
    .addHelpText('after', `\n${exitCodesHelp()}\n`);
  program.hook('preAction', (_self, action) => {
    const g = action.optsWithGlobals<{ address?: string; namespace?: string; profile?: string }>();
    setConnectionOverrides({ address: g.address, namespace: g.namespace, profile: g.profile });
  });
  registerPlanCommands(program);
  registerMigrationCommands(program);
  registerDevCommands(program);
  registerLockCommands(program);
  registerRehearseCommand(program);
  program
    .command('completion')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .description('print a shell completion script: source <(cpmigrate completion bash); zsh: cpmigrate completion zsh > "${fpath[1]}/_cpmigrate"')
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
  return program;
}

/** Run the CLI and exit with its code: CliExit's, else 1 with the message on stderr. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(`cpmigrate: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`cpmigrate: ${(err as Error).message}\n`);
    process.exit(EXIT.failure);
  }
}

if (require.main === module) void main();
