import { Command, Option } from 'nest-commander';
import { AuditService } from '../audit/audit.service';
import { RefreshTokensModule } from '../refresh-tokens/refresh-tokens.module';
import { RevocationModule } from '../revocation/revocation.module';
import { ParentTokensModule } from '../tokens/parent-tokens.module';
import { RevocationsService } from '../revocation/revocations.service';
import { looksLikeCredential } from '../common/credential-shape';
import { UsageError } from './cli-errors';
import { withContext } from './cli-context';
import { TesseraCommand } from './tessera-command';

interface RevokeOptions {
  jti?: string;
  subject?: string;
  client?: string;
  reason?: string;
}

@Command({
  name: 'revoke',
  description:
    'Revoke one token (--jti), every token of a user (--subject) or of a client (--client) issued until now. Written to PostgreSQL and announced to every running replica.',
})
export class RevokeCommand extends TesseraCommand {
  async run(_args: string[], options: RevokeOptions): Promise<void> {
    const given = (['jti', 'subject', 'client'] as const).filter((k) => options[k] !== undefined);
    if (given.length !== 1) throw new UsageError('give exactly one of --jti, --subject, --client');
    const kind = given[0];
    const target = options[kind] as string;
    const outcome = await withContext(
      [RevocationModule, RefreshTokensModule, ParentTokensModule],
      async (context) => {
        const revocation = context.get(RevocationsService);
        const result =
          kind === 'jti'
            ? await revocation.revokeJti(target, undefined, options.reason)
            : kind === 'subject'
              ? await revocation.revokeSubject(target, options.reason)
              : await revocation.revokeClient(target, options.reason);
        await context.get(AuditService).recordDurably({
          action: {
            jti: 'token.revoke',
            subject: 'token.revoke_user',
            client: 'token.revoke_client',
          }[kind],
          outcome: 'success',
          actor: 'cli',
          actorMethod: 'cli',
          target,
          details: options.reason ? { reason: options.reason } : {},
        });
        return result;
      },
    );
    process.stdout.write(JSON.stringify({ revoked: true, [kind]: target, ...outcome }) + '\n');
  }

  @Option({
    flags: '--jti <jti>',
    description: 'the jti of one token (a parent takes its children)',
  })
  parseJti(value: string): string {
    // Never stored, printed or audited: the revocation would keep a working credential.
    if (looksLikeCredential(value))
      throw new UsageError(
        '--jti: that is a token or an API key, not a jti (give the token’s jti claim; API keys: DELETE /admin/api-keys/{id})',
      );
    return value;
  }

  @Option({
    flags: '--subject <subject>',
    description: 'a user id / subject: every token issued until now',
  })
  parseSubject(value: string): string {
    return value;
  }

  @Option({
    flags: '--client <client>',
    description: 'a client id: every token issued to it until now',
  })
  parseClient(value: string): string {
    return value;
  }

  @Option({ flags: '--reason <reason>', description: 'kept with the revocation' })
  parseReason(value: string): string {
    return value;
  }
}
