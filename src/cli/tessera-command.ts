import { CommandRunner } from 'nest-commander';
import { hasControlCharacter } from '../common/hostile-input';
import { commanderExitCode, UsageError } from './cli-errors';

/** nest-commander's own commander version's Command (not the hoisted `commander` package's). */
type Command = Parameters<CommandRunner['setCommand']>[0];

/**
 * `tessera keys rotate` for a sub-command: the names from the root down. The root is always
 * `tessera`: commander would name it after the script (`main` when run as
 * `node dist/src/cli/main.js`).
 */
export function commandPath(command: Command): string {
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
    // Arguments are input as HTTP parameters are: a control character is refused before a
    // service or PostgreSQL sees it (`tessera audit --actor $'a\x01b'` listed nothing, exit 0,
    // where GET /admin/audit answers 400).
    command.hook('preAction', (hooked, acting) => refuseControlCharacters(hooked, acting));
    return super.setCommand(command);
  }
}

/** The message of the HTTP edge's 400, with the option's flag (`--actor`) for the field. */
function refuseControlCharacters(hooked: Command, acting: Command): void {
  const refused = (what: string) =>
    new UsageError(`${what}: control characters (such as NUL) and lone surrogates are not allowed`);
  for (const [name, value] of Object.entries(hooked.opts())) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && hasControlCharacter(v))) {
      const option = hooked.options.find((o) => o.attributeName() === name);
      throw refused(option?.long ?? name);
    }
  }
  if (hooked === acting && hooked.args.some((arg) => hasControlCharacter(arg)))
    throw refused('argument');
}
