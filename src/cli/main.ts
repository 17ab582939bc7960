import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { ValidationFailedError } from '../common/errors';
import { describeStartupError } from '../common/startup-error';
import { ConfigValidationError, validateEnv } from '../config/env.validation';
import { PolicyError } from '../config/policy/auth-policy';

/** Exit codes: 0 ok, 1 configuration or runtime error, 2 bad arguments. */
async function main(): Promise<void> {
  // Before Nest loads anything: a bad variable is one line and exit code 1.
  validateEnv(process.env);
  const { CliModule } = await import('./cli.module');
  await CommandFactory.run(CliModule, {
    logger: ['error'],
    errorHandler: (error) => {
      // commander's own errors (unknown option, missing argument) are usage errors.
      const code = (error as { code?: string }).code ?? '';
      if (code === 'commander.helpDisplayed' || code === 'commander.version') process.exit(0);
      if (!code.startsWith('commander.')) process.stderr.write(`${error.message}\n`);
      process.exit(code.startsWith('commander.') ? 2 : 1);
    },
    serviceErrorHandler: (error) => {
      // A command's own argument check (e.g. an unknown role) is a usage error.
      if (error instanceof ValidationFailedError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(2);
      }
      const known = error instanceof ConfigValidationError || error instanceof PolicyError;
      process.stderr.write((known ? error.message : describeStartupError(error)) + '\n');
      process.exit(1);
    },
  });
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigValidationError || error instanceof PolicyError;
  process.stderr.write((known ? (error as Error).message : describeStartupError(error)) + '\n');
  process.exit(1);
});
