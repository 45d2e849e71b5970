/**
 * cpmigrate: the operator CLI.
 *   cpmigrate plan validate FILE | plan show FILE
 *   cpmigrate start FILE | status ID | approve ID GATE | abort ID --reason R | pause ID | resume ID | list
 *   cpmigrate lock break FILE --reason R
 * Temporal connection from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS: see README).
 */
import { Command } from 'commander';
import { registerLockCommands } from './cli/lock-commands';
import { registerMigrationCommands } from './cli/migration-commands';
import { registerPlanCommands } from './cli/plan-commands';

export function buildProgram(): Command {
  const program = new Command('cpmigrate')
    .description('Migrate a Kubernetes control plane to new masters as a durable Temporal workflow')
    .version('0.1.0')
    .showHelpAfterError();
  registerPlanCommands(program);
  registerMigrationCommands(program);
  registerLockCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`cpmigrate: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
