import { randomBytes } from 'node:crypto';
import { Command, Option, SubCommand } from 'nest-commander';
import { TesseraCommand } from './tessera-command';
import { UsersModule } from '../users/users.module';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, UsersService } from '../users/users.service';
import { listOption, UsageError } from './cli-errors';
import { recordCliChange, withContext } from './cli-context';

interface CreateUserOptions {
  email?: string;
  name?: string;
  roles?: string;
  passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

@SubCommand({
  name: 'create',
  description:
    'Create a user and print it as JSON (with its oid). The password is read from stdin with --password-stdin; ' +
    'without it a random password is generated and printed once. (No --password flag: it would show in ps and shell history.)',
})
export class UsersCreateCommand extends TesseraCommand {
  async run(_args: string[], options: CreateUserOptions): Promise<void> {
    const email = options.email;
    if (!email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email))
      throw new UsageError('--email must be an email address');
    const generated = options.passwordStdin ? undefined : randomBytes(18).toString('base64url');
    const password = generated ?? (await readStdin());
    if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH)
      throw new UsageError(
        `the password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
      );
    const user = await withContext([UsersModule], async (context) => {
      const created = await context
        .get(UsersService)
        .create({ email, password, name: options.name, roles: listOption(options.roles) });
      await recordCliChange(context, 'user.create', created.oid);
      return created;
    });
    const output = {
      oid: user.oid,
      email: user.email,
      name: user.name,
      roles: user.roles,
      ...(generated ? { password: generated } : {}),
    };
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  }

  @Option({
    flags: '--email <email>',
    description: 'login email (unique, case-insensitive)',
    required: true,
  })
  parseEmail(value: string): string {
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

  @Option({ flags: '--password-stdin', description: 'read the password from stdin' })
  parsePasswordStdin(): boolean {
    return true;
  }
}

@Command({ name: 'users', description: 'People: create', subCommands: [UsersCreateCommand] })
export class UsersCommand extends TesseraCommand {
  async run(): Promise<void> {
    process.stderr.write(this.command.helpInformation());
    throw new UsageError('users needs a subcommand: create');
  }
}
