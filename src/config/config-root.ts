import { ConfigModule } from '@nestjs/config';
import { allConfig } from './configuration';
import { validateEnv } from './env.validation';

/**
 * The one ConfigModule set-up (app, CLI, CLI command contexts): every namespace of
 * configuration.ts, from the environment only (no .env file), validated before use.
 */
export function configRoot() {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    load: allConfig,
    validate: (env) => {
      validateEnv(env as Record<string, string | undefined>);
      return env;
    },
  });
}
