import { CommandRunner } from 'nest-commander';
import { commanderExitCode } from './cli-errors';

/** nest-commander's own commander version's Command (not the hoisted `commander` package's). */
type Command = Parameters<CommandRunner['setCommand']>[0];

/** `tessera keys rotate` for a sub-command: the names from the root down. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) if (c.parent) names.unshift(c.name());
  return ['tessera', ...names].join(' ');
}

/** The one usage line printed after any argument error (exit code 2). */
export function usageLine(command: Command): string {
  return `Usage: ${commandPath(command)} ${command.usage()}`.trimEnd();
}

/**
 * Base of every `tessera` command (and so of any command added later): strict arguments,
 * without a per-command list. Commander 11 accepts excess positionals by default (so
 * `tessera audit verify` once ran `audit` and exited 0); here an unknown sub-command,
 * positional or option is an error, answered with commander's message, the usage line and
 * exit code 2. nest-commander applies its error handler to the root command only, so each
 * command routes commander's errors itself.
 */
export abstract class TesseraCommand extends CommandRunner {
  override setCommand(command: Command): this {
    command.allowExcessArguments(false);
    command.allowUnknownOption(false);
    command.configureOutput({
      outputError: (message, write) => write(`${message.trimEnd()}\n${usageLine(command)}\n`),
    });
    command.exitOverride((error) => process.exit(commanderExitCode(error.code)));
    return super.setCommand(command);
  }
}
