import 'reflect-metadata';
import { ConfigValidationError, validateEnv } from './config/env.validation';
import { describeStartupError } from './common/startup-error';

async function main(): Promise<void> {
  // Validate before anything else so a bad variable is one clear line, not a stack trace.
  const env = validateEnv(process.env);
  const { createApp } = await import('./bootstrap');
  const app = await createApp();
  await app.listen({ port: env.port, host: env.host });
  process.stdout.write(`Tessera listening on http://${env.host}:${env.port} (docs at /docs)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    (error instanceof ConfigValidationError ? error.message : describeStartupError(error)) + '\n',
  );
  process.exit(1);
});
