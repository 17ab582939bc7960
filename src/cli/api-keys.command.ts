import { Inject } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { DataSource } from 'typeorm';
import { insertApiKey } from '../api-keys/api-key-secret';
import { ValidationFailedError } from '../common/errors';
import { policyConfig } from '../config/configuration';
import { buildDataSourceOptions } from '../database/data-source.options';
import { DatabaseLocator } from '../database/database-locator';
import { runMigrationsLocked } from '../database/migrate';
import { loadRoleNames } from '../rbac/rbac.service';

interface CreateOptions {
  name: string;
  roles?: string[];
}

/**
 * `tessera api-keys create --name N --roles a,b`: prints the key once. Works beside a running
 * server: the insert is announced with NOTIFY, so every replica accepts the key at once.
 */
@SubCommand({ name: 'create', description: 'Create an API key and print it (shown only once)' })
export class CreateApiKeyCommand extends CommandRunner {
  constructor(
    private readonly locator: DatabaseLocator,
    @Inject(policyConfig.KEY) private readonly policy: ConfigType<typeof policyConfig>,
  ) {
    super();
  }

  async run(_args: string[], options: CreateOptions): Promise<void> {
    const dataSource = new DataSource(
      buildDataSourceOptions(await this.locator.url(), 'maintenance'),
    );
    await dataSource.initialize();
    try {
      await runMigrationsLocked(dataSource);
      // Before the first server start the roles table is empty: the policy file's roles apply.
      const stored = await loadRoleNames(dataSource.manager);
      const known = stored.length ? stored : this.policy.roles.map((role) => role.name);
      const roles = options.roles?.length ? options.roles : [this.policy.defaultRole];
      const unknown = roles.filter((role) => !known.includes(role));
      if (unknown.length)
        throw new ValidationFailedError(`--roles: unknown role(s) ${unknown.join(', ')}`);
      const created = await dataSource.transaction((manager) =>
        insertApiKey(manager, { name: options.name, roles, createdBy: 'cli' }),
      );
      process.stdout.write(
        `id:     ${created.id}\nname:   ${created.name}\nroles:  ${created.roles.join(',')}\n` +
          `key:    ${created.key}\n(the key is shown only this once)\n`,
      );
    } finally {
      await dataSource.destroy();
    }
  }

  @Option({ flags: '--name <name>', description: 'a name to recognise the key', required: true })
  parseName(value: string): string {
    if (!value.trim()) throw new ValidationFailedError('--name must not be empty');
    return value.trim();
  }

  @Option({
    flags: '--roles <roles>',
    description: 'comma-separated roles (default: default_role)',
  })
  parseRoles(value: string): string[] {
    return value
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean);
  }
}

@Command({
  name: 'api-keys',
  description: 'Manage API keys',
  subCommands: [CreateApiKeyCommand],
})
export class ApiKeysCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
