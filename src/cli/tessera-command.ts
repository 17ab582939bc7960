import { CommandRunner } from 'nest-commander';
import { commanderExitCode } from './cli-errors';

/** nest-commander's own commander version's Command (not the hoisted `commander` package's). */
type Command = Parameters<CommandRunner['setCommand']>[0];

/**
 * Base of every `tessera` command. nest-commander applies its error handler to the root command
 * only; sub-commands would exit 1 on an unknown option. Each command routes commander's errors
 * to exit code 2 (bad arguments) itself; commander has already printed the message.
 */
export abstract class TesseraCommand extends CommandRunner {
  override setCommand(command: Command): this {
    command.exitOverride((error) => process.exit(commanderExitCode(error.code)));
    return super.setCommand(command);
  }
}
