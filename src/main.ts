import 'reflect-metadata';
import { describeStartupError } from './common/startup-error';
import { ConfigValidationError, validateEnv } from './config/env.validation';
import { loadAuthPolicy, PolicyError } from './config/policy/auth-policy';

async function main(): Promise<void> {
  // Validate before anything else so a bad variable or policy is one clear line, not a stack trace.
  const env = validateEnv(process.env);
  loadAuthPolicy(env.authPolicyFile, env.production, env.authPolicyFileRequired);
  const { createApp } = await import('./bootstrap');
  const app = await createApp();
  await app.listen({ port: env.port, host: env.host });
  process.stdout.write(`Tessera listening on http://${env.host}:${env.port} (docs at /docs)\n`);
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigValidationError || error instanceof PolicyError;
  process.stderr.write((known ? (error as Error).message : describeStartupError(error)) + '\n');
  process.exit(1);
});
