import { Command, Option, SubCommand } from 'nest-commander';
import { TesseraCommand } from './tessera-command';
import { ClientsModule } from '../clients/clients.module';
import { ClientsService, SUPPORTED_CLIENT_GRANTS } from '../clients/clients.service';
import { listOption, UsageError } from './cli-errors';
import { recordCliChange, withContext } from './cli-context';
import { GrantingCommand, type GrantOptions } from './grant-options';

interface CreateClientOptions extends GrantOptions {
  id?: string;
  name?: string;
  roles?: string;
  scopes?: string;
  grantTypes?: string;
}

@SubCommand({
  name: 'create',
  description:
    'Create an OAuth client and print it as JSON with its client_secret (shown only this once).',
})
export class ClientsCreateCommand extends GrantingCommand {
  async run(_args: string[], options: CreateClientOptions): Promise<void> {
    if (options.id !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(options.id))
      throw new UsageError('--id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    const grantTypes = listOption(options.grantTypes);
    const badGrant = grantTypes?.find((g) => !SUPPORTED_CLIENT_GRANTS.includes(g));
    if (badGrant)
      throw new UsageError(
        `--grant-types: unsupported "${badGrant}" (${SUPPORTED_CLIENT_GRANTS.join(', ')})`,
      );
    const created = await withContext([ClientsModule], async (context) => {
      const client = await context.get(ClientsService).create({
        id: options.id,
        name: options.name,
        roles: listOption(options.roles),
        scopes: listOption(options.scopes),
        grantTypes,
        ...this.grantOf(options),
      });
      await recordCliChange(context, 'client.create', client.client.id);
      return client;
    });
    process.stdout.write(
      JSON.stringify(
        {
          client_id: created.client.id,
          client_secret: created.secret,
          name: created.client.name,
          roles: created.client.roles,
          scopes: created.client.scopes,
          grant_types: created.client.grantTypes,
        },
        null,
        2,
      ) + '\n',
    );
  }

  @Option({ flags: '--id <id>', description: 'client id (generated when omitted)' })
  parseId(value: string): string {
    return value;
  }

  @Option({ flags: '--name <name>', description: 'display name' })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '-r, --roles <roles>', description: 'comma-separated (default: default_role)' })
  parseRoles(value: string): string {
    return value;
  }

  @Option({ flags: '--scopes <scopes>', description: 'allowed scopes (default: model:invoke)' })
  parseScopes(value: string): string {
    return value;
  }

  @Option({
    flags: '--grant-types <grants>',
    description: `comma-separated: ${SUPPORTED_CLIENT_GRANTS.join(', ')} (default: client_credentials)`,
  })
  parseGrantTypes(value: string): string {
    return value;
  }
}

@Command({
  name: 'clients',
  description: 'OAuth clients: create',
  subCommands: [ClientsCreateCommand],
})
export class ClientsCommand extends TesseraCommand {
  async run(): Promise<void> {
    process.stderr.write(this.command.helpInformation());
    throw new UsageError('clients needs a subcommand: create');
  }
}
