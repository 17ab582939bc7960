import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { ValidationFailedError } from '../common/errors';
import { recordCliChange, withContext } from './cli-context';
import { GrantingCommand, type GrantOptions } from './grant-options';

interface CreateOptions extends GrantOptions {
  name: string;
  roles?: string[];
}

/**
 * `tessera api-keys create --name N --roles a,b`: prints the key once. Works beside a running
 * server: the insert is announced with NOTIFY, so every replica accepts the key at once.
 */
@SubCommand({ name: 'create', description: 'Create an API key and print it (shown only once)' })
export class CreateApiKeyCommand extends GrantingCommand {
  async run(_args: string[], options: CreateOptions): Promise<void> {
    // Through ApiKeysService, as the admin API does: same role check, same NOTIFY.
    const created = await withContext([ApiKeysModule], async (context) => {
      const key = await context
        .get(ApiKeysService)
        .create({
          name: options.name,
          roles: options.roles,
          createdBy: 'cli',
          ...this.grantOf(options),
        })
        .catch((error: unknown) => {
          if (error instanceof ValidationFailedError && error.param)
            throw new ValidationFailedError(`--${error.param.replace('_', '-')}: ${error.message}`);
          throw error;
        });
      await recordCliChange(context, 'api_key.create', key.id);
      return key;
    });
    process.stdout.write(
      `id:     ${created.id}\nname:   ${created.name}\nroles:  ${created.roles.join(',')}\n` +
        `key:    ${created.key}\n(the key is shown only this once)\n`,
    );
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
