import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { allConfig } from '../config/configuration';
import { validateEnv } from '../config/env.validation';
import { DatabaseLocator } from '../database/database-locator';
import { ApiKeysCommand, CreateApiKeyCommand } from './api-keys.command';
import { MigrateCommand } from './migrate.command';

/** The `tessera` command line. Commands that need the whole app state boot only what they use. */
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      load: allConfig,
      validate: (env) => {
        validateEnv(env as Record<string, string | undefined>);
        return env;
      },
    }),
  ],
  providers: [DatabaseLocator, MigrateCommand, ApiKeysCommand, CreateApiKeyCommand],
})
export class CliModule {}
