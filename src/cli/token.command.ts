import { Inject, type INestApplicationContext } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Command, Option } from 'nest-commander';
import { TesseraCommand } from './tessera-command';
import { signAccessToken } from '../oauth/token.service';
import { parseDuration } from '../common/duration';
import { jwtConfig, policyConfig } from '../config/configuration';
import { SIGNING_ALGORITHMS } from '../config/env.validation';
import type { SigningKey } from '../keys/key-ring';
import { KeysModule } from '../keys/keys.module';
import { KeysService } from '../keys/keys.service';
import { MIN_SECRET_LENGTH, sharedSecretKey } from '../keys/shared-secret';
import { CliConfigError, listOption, UsageError } from './cli-errors';
import { recordCliChange, withContext } from './cli-context';

interface TokenOptions {
  subject?: string;
  expiresIn?: string;
  algorithm?: string;
  secret?: string;
  scope?: string;
  roles?: string;
  clientId?: string;
}

@Command({
  name: 'token',
  description:
    'Print an access token to stdout. HS256 signs with --secret (default JWT_SECRET_KEY) and needs no database; ' +
    'RS256/PS256/ES256 sign with the database’s active key. Exit codes: 0 ok, 1 configuration error ' +
    '(missing or short secret), 2 bad arguments.',
})
export class TokenCommand extends TesseraCommand {
  constructor(
    @Inject(jwtConfig.KEY) private readonly jwt: ConfigType<typeof jwtConfig>,
    @Inject(policyConfig.KEY) private readonly policy: ConfigType<typeof policyConfig>,
  ) {
    super();
  }

  async run(_args: string[], options: TokenOptions): Promise<void> {
    // --secret alone means HS256, as with the shared-secret reference's generate_jwt.py.
    const algorithm = (
      options.algorithm ?? (options.secret !== undefined ? 'HS256' : this.jwt.algorithm)
    ).toUpperCase();
    if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm))
      throw new UsageError(
        `--algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')} (got "${options.algorithm}")`,
      );
    const subject = options.subject ?? 'client';
    if (subject.trim() === '') throw new UsageError('--subject must not be empty');
    let expiresIn: number | null = this.jwt.accessTokenTtl;
    if (options.expiresIn !== undefined) {
      if (/^(never|none)$/i.test(options.expiresIn)) {
        if (algorithm !== 'HS256')
          throw new UsageError('--expires-in never is only possible with --algorithm HS256');
        expiresIn = null;
      } else {
        const seconds = parseDuration(options.expiresIn);
        if (seconds === undefined)
          throw new UsageError(
            `--expires-in must be a duration such as 3600s, 30m, 24h, 7d or 4w (got "${options.expiresIn}")`,
          );
        expiresIn = seconds;
      }
    }
    const roles = listOption(options.roles) ?? [this.policy.defaultRole];
    const known = new Set(this.policy.roles.map((r) => r.name));
    const unknown = roles.filter((r) => !known.has(r));
    if (unknown.length)
      throw new UsageError(
        `--roles: unknown role(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})`,
      );
    if (options.secret !== undefined && algorithm !== 'HS256')
      throw new UsageError('--secret is only used with --algorithm HS256');

    const identity = { issuer: this.jwt.issuer, audience: this.jwt.audience };
    const request = {
      subject,
      clientId: options.clientId,
      scopes: listOption(options.scope) ?? [],
      roles,
    };
    // HS256 with a shared secret needs no database, and so leaves no audit event; a token
    // signed with the database's key is recorded there like every other (token.issue, grant
    // cli, actor cli), before the command prints it.
    const token =
      algorithm === 'HS256'
        ? signAccessToken(this.sharedKey(options.secret), identity, request, expiresIn).token
        : await this.withActiveKey(algorithm, async (key, context) => {
            const { token, claims } = signAccessToken(key, identity, request, expiresIn);
            await recordCliChange(context, 'token.issue', claims.jti, {
              grant: 'cli',
              subject,
              client: options.clientId,
              kid: key.kid,
              token_type: 'access',
              scope: claims.scope,
            });
            return token;
          });
    process.stdout.write(token + '\n');
  }

  private sharedKey(given?: string): SigningKey {
    const secret = given ?? this.jwt.secretKey;
    if (!secret) throw new CliConfigError('JWT_SECRET_KEY is not set (set it, or pass --secret)');
    if (secret.length < MIN_SECRET_LENGTH)
      throw new CliConfigError(
        `The secret must be at least ${MIN_SECRET_LENGTH} characters long (got ${secret.length})`,
      );
    return sharedSecretKey(secret);
  }

  private withActiveKey<T>(
    algorithm: string,
    work: (key: SigningKey, context: INestApplicationContext) => Promise<T>,
  ): Promise<T> {
    if (this.jwt.algorithm === 'HS256')
      throw new CliConfigError(
        `JWT_ALGORITHM=HS256: the server has no ${algorithm} key; use --algorithm HS256`,
      );
    return withContext([KeysModule], async (context) => {
      const key = context.get(KeysService).signingKey();
      if (key.algorithm !== algorithm)
        throw new CliConfigError(
          `The active signing key is ${key.algorithm}, not ${algorithm} (JWT_ALGORITHM=${this.jwt.algorithm})`,
        );
      return work(key, context);
    });
  }

  @Option({ flags: '-s, --subject <subject>', description: 'the token’s sub (default: client)' })
  parseSubject(value: string): string {
    return value;
  }

  @Option({
    flags: '-e, --expires-in <duration>',
    description:
      'lifetime: 3600s, 30m, 24h, 7d, 4w (default ACCESS_TOKEN_TTL); "never" (HS256 only)',
  })
  parseExpiresIn(value: string): string {
    return value;
  }

  @Option({
    flags: '-a, --algorithm <algorithm>',
    description:
      'HS256, RS256, PS256 or ES256 (default JWT_ALGORITHM; HS256 when --secret is given)',
  })
  parseAlgorithm(value: string): string {
    return value;
  }

  @Option({
    flags: '--secret <secret>',
    description: 'HS256 shared secret, at least 32 characters (default JWT_SECRET_KEY)',
  })
  parseSecret(value: string): string {
    return value;
  }

  @Option({ flags: '--scope <scopes>', description: 'space- or comma-separated scopes' })
  parseScope(value: string): string {
    return value;
  }

  @Option({
    flags: '-r, --roles <roles>',
    description: 'comma-separated roles from the policy file (default: default_role)',
  })
  parseRoles(value: string): string {
    return value;
  }

  @Option({ flags: '--client-id <id>', description: 'client_id claim (optional)' })
  parseClientId(value: string): string {
    return value;
  }
}
