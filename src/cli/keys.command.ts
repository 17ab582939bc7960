import type { INestApplicationContext } from '@nestjs/common';
import { Inject } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { Command, Option, SubCommand } from 'nest-commander';
import { TesseraCommand } from './tessera-command';
import { jwtConfig } from '../config/configuration';
import { AsymmetricAlgorithm, generateSigningKeyPair } from '../keys/key-crypto';
import { KeysModule } from '../keys/keys.module';
import { KeySummary, KeysService, rotationDetails } from '../keys/keys.service';
import { beforeAfter } from '../audit/audit-details';
import { CliConfigError, UsageError } from './cli-errors';
import { recordCliChange, withContext } from './cli-context';

function keysService<T>(
  jwt: ConfigType<typeof jwtConfig>,
  work: (keys: KeysService, context: INestApplicationContext) => Promise<T>,
): Promise<T> {
  if (jwt.algorithm === 'HS256')
    throw new CliConfigError(
      'JWT_ALGORITHM=HS256 uses one shared secret: there are no keys to rotate (change JWT_SECRET_KEY instead)',
    );
  return withContext([KeysModule], (context) => work(context.get(KeysService), context));
}

function line(key: KeySummary): string {
  const date = (d: Date | null) => (d ? new Date(d).toISOString() : '-');
  return [key.kid, key.algorithm, key.status, date(key.createdAt), date(key.retireAfter)].join(
    '\t',
  );
}

@SubCommand({
  name: 'generate',
  description:
    'Print a new private key (PEM, for PRIVATE_KEY_PATH) or, with --algorithm HS256, a random secret for JWT_SECRET_KEY. Touches no database.',
})
export class KeysGenerateCommand extends TesseraCommand {
  constructor(@Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>) {
    super();
  }

  async run(_args: string[], options: { algorithm?: string }): Promise<void> {
    const algorithm = (options.algorithm ?? this.jwt.algorithm).toUpperCase();
    if (algorithm === 'HS256') {
      process.stdout.write(randomBytes(48).toString('base64url') + '\n');
      return;
    }
    if (!['RS256', 'PS256', 'ES256'].includes(algorithm))
      throw new UsageError(`--algorithm must be RS256, PS256, ES256 or HS256 (got "${algorithm}")`);
    const { privateKey } = generateSigningKeyPair(algorithm as AsymmetricAlgorithm);
    process.stdout.write(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  }

  @Option({ flags: '-a, --algorithm <algorithm>', description: 'default JWT_ALGORITHM' })
  parseAlgorithm(value: string): string {
    return value;
  }
}

@SubCommand({
  name: 'rotate',
  description:
    'Rotate the signing key: soft (old keys verify until their tokens expire) or --hard (old tokens fail at once). Prints the new kid.',
})
export class KeysRotateCommand extends TesseraCommand {
  constructor(@Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>) {
    super();
  }

  async run(_args: string[], options: { hard?: boolean }): Promise<void> {
    const mode = options.hard ? 'hard' : 'soft';
    // As the API's rotation records it: the keys before and after, the kids it retired, and each
    // of those its own keys.retire event (a CLI rotation recorded only mode and automatic).
    const key = await keysService(this.jwt, async (keys, context) => {
      const rotation = await keys.rotation(mode, { actor: 'cli', actorMethod: 'cli' });
      await recordCliChange(context, 'keys.rotate', rotation.key.kid, {
        mode,
        automatic: false,
        ...rotationDetails(rotation),
      });
      return rotation.key;
    });
    process.stdout.write(key.kid + '\n');
  }

  @Option({ flags: '--hard', description: 'retire every older key now' })
  parseHard(): boolean {
    return true;
  }
}

@SubCommand({
  name: 'retire',
  arguments: '<kid>',
  description:
    "Retire a non-active key now: tokens it signed stop verifying on every replica. A kid that starts with '-' goes after --: tessera keys retire -- -Xy3…",
})
export class KeysRetireCommand extends TesseraCommand {
  constructor(@Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>) {
    super();
  }

  async run([kid]: string[]): Promise<void> {
    // The key's fields before and after, as the API's retirement records them.
    const key = await keysService(this.jwt, async (keys, context) => {
      const before = await keys.get(kid);
      const retired = await keys.retire(kid);
      await recordCliChange(context, 'keys.retire', kid, {
        automatic: false,
        ...beforeAfter(before, retired),
      });
      return retired;
    });
    process.stdout.write(line(key) + '\n');
  }
}

@SubCommand({
  name: 'list',
  description: 'List keys: kid, algorithm, status, created, retire-after (tab-separated).',
})
export class KeysListCommand extends TesseraCommand {
  constructor(@Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>) {
    super();
  }

  async run(): Promise<void> {
    const keys = await keysService(this.jwt, (service) => service.list());
    process.stdout.write(keys.map(line).join('\n') + '\n');
  }
}

@Command({
  name: 'keys',
  description: 'Signing keys: generate | rotate [--hard] | retire KID | list',
  subCommands: [KeysGenerateCommand, KeysRotateCommand, KeysRetireCommand, KeysListCommand],
})
export class KeysCommand extends TesseraCommand {
  async run(): Promise<void> {
    process.stderr.write(this.command.helpInformation());
    throw new UsageError('keys needs a subcommand: generate, rotate, retire or list');
  }
}
