import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { describeStartupError } from '../common/startup-error';
import { ConfigValidationError, validateEnv } from '../config/env.validation';
import { PolicyError } from '../config/policy/auth-policy';
import { DomainError, ErrorCode } from '../common/errors';
import { CliConfigError, commanderExitCode, UsageError } from './cli-errors';
import { commandPath } from './tessera-command';

/** What a command's failure prints and its exit code: 2 for bad arguments, 1 for the rest. */
function failure(error: unknown): { message: string; code: number } {
  if (error instanceof UsageError) return { message: error.message, code: 2 };
  if (error instanceof CliConfigError) return { message: error.message, code: 1 };
  // Services' typed errors: a rejected input (unknown role…) is a usage error; a conflict or
  // a missing record is a plain failure.
  if (error instanceof DomainError)
    return { message: error.message, code: error.code === ErrorCode.ValidationFailed ? 2 : 1 };
  const known = error instanceof ConfigValidationError || error instanceof PolicyError;
  return { message: known ? (error as Error).message : describeStartupError(error), code: 1 };
}

/** Exit codes: 0 ok, 1 configuration or runtime error, 2 bad arguments. */
async function main(): Promise<void> {
  // Before Nest loads anything: a bad variable is one line and exit code 1.
  validateEnv(process.env);
  const { CliModule } = await import('./cli.module');
  await CommandFactory.run(CliModule, {
    logger: ['error'],
    // `Usage: tessera audit export` in --help, whatever the script is called.
    helpConfiguration: { commandUsage: (command) => `${commandPath(command)} ${command.usage()}` },
    errorHandler: (error) => {
      // commander's own errors (unknown option, missing argument) are usage errors.
      const code = (error as { code?: string }).code ?? '';
      if (!code.startsWith('commander.')) process.stderr.write(`${error.message}\n`);
      const exitCode = code.startsWith('commander.') ? commanderExitCode(code) : 1;
      // An unknown command (the root's own error; commands print their own usage line).
      if (exitCode === 2)
        process.stderr.write('Usage: tessera [options] [command]  (tessera --help lists them)\n');
      process.exit(exitCode);
    },
    serviceErrorHandler: (error) => {
      const { message, code } = failure(error);
      process.stderr.write(`tessera: ${message}\n`);
      process.exit(code);
    },
  });
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigValidationError || error instanceof PolicyError;
  process.stderr.write((known ? (error as Error).message : describeStartupError(error)) + '\n');
  process.exit(1);
});
