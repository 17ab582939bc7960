import { Module } from '@nestjs/common';
import { configRoot } from '../config/config-root';
import { DatabaseLocator } from '../database/database-locator';
import { ClientsCommand, ClientsCreateCommand } from './clients.command';
import {
  KeysCommand,
  KeysGenerateCommand,
  KeysListCommand,
  KeysRetireCommand,
  KeysRotateCommand,
} from './keys.command';
import {
  AuditCommand,
  AuditExportCommand,
  AuditPurgeCommand,
  AuditVerifyCommand,
} from './audit.command';
import { RevokeCommand } from './revoke.command';
import { ApiKeysCommand, CreateApiKeyCommand } from './api-keys.command';
import { MigrateCommand } from './migrate.command';
import { TokenCommand } from './token.command';
import { UsageCommand } from './usage.command';
import { UsersCommand, UsersCreateCommand } from './users.command';

/**
 * The `tessera` command line. Only configuration is loaded here; a command that needs the
 * database boots its own application context with just the modules it uses (cli-context.ts),
 * so `token --algorithm HS256` and `keys generate` never touch PostgreSQL.
 */
@Module({
  imports: [configRoot()],
  providers: [
    DatabaseLocator,
    MigrateCommand,
    TokenCommand,
    KeysCommand,
    KeysGenerateCommand,
    KeysRotateCommand,
    KeysRetireCommand,
    KeysListCommand,
    ClientsCommand,
    ClientsCreateCommand,
    UsersCommand,
    UsersCreateCommand,
    ApiKeysCommand,
    CreateApiKeyCommand,
    RevokeCommand,
    AuditCommand,
    AuditVerifyCommand,
    AuditExportCommand,
    AuditPurgeCommand,
    UsageCommand,
  ],
})
export class CliModule {}
