import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { OAuthError } from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { RevocationsService } from '../revocation/revocations.service';
import { RefreshTokenEntity } from './refresh-token.entity';

/**
 * A refresh token refused (`invalid_grant`), with whose it was when that is known, and whether
 * its whole family was revoked (a consumed token presented again: a stolen one, or a replay), for
 * the audit trail.
 */
export class RefreshTokenRefused extends OAuthError {
  constructor(
    description: string,
    readonly subject?: string,
    readonly familyRevoked = false,
  ) {
    super('invalid_grant', description);
  }
}

export interface RefreshGrant {
  subject: string;
  clientId?: string;
  scopes: string[];
  roles: string[];
  claims?: Record<string, unknown>;
}

/** What revoking a refresh token's family did: whose family, and how many tokens it ended. */
export type FamilyRevocation =
  | { outcome: 'revoked'; subject: string; familyId: string; revoked: number }
  | { outcome: 'unknown' | 'other-client' };

export interface RotatedRefresh extends RefreshGrant {
  refreshToken: string;
  familyId: string;
}

const PREFIX = 'rt_';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Refresh tokens with rotation: each use consumes the presented token and returns a new one of
 * the same family; presenting a consumed (or revoked) token revokes the whole family and fails
 * with `invalid_grant`, so a stolen refresh token is good for at most one use.
 */
@Injectable()
export class RefreshTokensService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    revocations: RevocationsService,
    @Inject(jwtConfig.KEY) private readonly config: ConfigType<typeof jwtConfig>,
  ) {
    // Revoking a subject or a client revokes its refresh tokens in the same transaction.
    revocations.cascade(async (manager, revoked) =>
      revoked.kind === 'jti'
        ? {}
        : { refreshTokens: await this.revokeWhere(manager, revoked.kind, revoked.value) },
    );
  }

  /** Starts a new family and returns its first refresh token (shown once, stored as a digest). */
  async issue(grant: RefreshGrant): Promise<{ refreshToken: string; familyId: string }> {
    const familyId = randomUUID();
    const refreshToken = await this.insert(
      this.dataSource.getRepository(RefreshTokenEntity),
      grant,
      familyId,
    );
    return { refreshToken, familyId };
  }

  /**
   * Consumes `token` and returns the grant it carries with a new refresh token. `clientId`, when
   * given, must be the client the token was issued to (RFC 6749 §6).
   */
  async rotate(token: string, clientId?: string): Promise<RotatedRefresh> {
    if (!token.startsWith(PREFIX) || token.length > 200)
      throw new RefreshTokenRefused('Invalid refresh token');
    const outcome = await this.dataSource.transaction(
      async (
        manager,
      ): Promise<{
        error: string;
        rotated?: RotatedRefresh;
        subject?: string;
        familyRevoked?: boolean;
      }> => {
        const repo = manager.getRepository(RefreshTokenEntity);
        const row = await repo.findOne({
          where: { digest: digest(token) },
          lock: { mode: 'pessimistic_write' },
        });
        if (!row) return { error: 'Invalid refresh token' };
        // A token bound to a client needs that client's authentication (RFC 6749 §6); one issued
        // without a client (a person's /auth/login) may be refreshed with or without one.
        const subject = row.subject;
        if (row.clientId !== null && row.clientId !== clientId) {
          return { error: 'Refresh token was issued to another client', subject };
        }
        if (row.consumedAt || row.revokedAt) {
          await repo.update({ familyId: row.familyId }, { revokedAt: new Date() });
          return {
            error: 'Refresh token was already used; its whole family is revoked',
            subject,
            familyRevoked: true,
          };
        }
        if (row.expiresAt.getTime() <= Date.now())
          return { error: 'Refresh token has expired', subject };
        row.consumedAt = new Date();
        await repo.save(row);
        const grant: RefreshGrant = {
          subject: row.subject,
          clientId: row.clientId ?? undefined,
          scopes: row.scopes,
          roles: row.roles,
          claims: row.claims,
        };
        const refreshToken = await this.insert(repo, grant, row.familyId);
        return { rotated: { ...grant, refreshToken, familyId: row.familyId }, error: '' };
      },
    );
    if (outcome.rotated === undefined)
      throw new RefreshTokenRefused(outcome.error, outcome.subject, outcome.familyRevoked);
    return outcome.rotated;
  }

  /** Revokes every refresh token of a subject (its user was disabled or changed password). */
  revokeSubject(subject: string): Promise<number> {
    return this.revokeWhere(this.dataSource.manager, 'subject', subject);
  }

  private async revokeWhere(
    manager: EntityManager,
    kind: 'subject' | 'client',
    value: string,
  ): Promise<number> {
    const result = await manager
      .getRepository(RefreshTokenEntity)
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where(`${kind === 'subject' ? 'subject' : 'client_id'} = :value AND revoked_at IS NULL`, {
        value,
      })
      .execute();
    return result.affected ?? 0;
  }

  /** Revokes every refresh token of one family (e.g. its user was disabled). */
  async revokeFamilyById(familyId: string): Promise<void> {
    await this.dataSource
      .getRepository(RefreshTokenEntity)
      .update({ familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  /**
   * RFC 7009 for refresh tokens: revokes the family of `token` when it was issued to `clientId`.
   * Returns 'revoked', 'unknown' (nothing to do; the RFC answers 200 all the same) or
   * 'other-client'.
   */
  async revokeFamily(
    token: string,
    clientId: string,
  ): Promise<'revoked' | 'unknown' | 'other-client'> {
    return (await this.revokeFamilyOf(token, clientId)).outcome;
  }

  /**
   * {@link revokeFamily}, saying whose family it was (its subject and family id, for the audit
   * trail; never the token) and how many of its tokens were still live.
   */
  async revokeFamilyOf(token: string, clientId: string): Promise<FamilyRevocation> {
    if (!token.startsWith(PREFIX) || token.length > 200) return { outcome: 'unknown' };
    const repo = this.dataSource.getRepository(RefreshTokenEntity);
    const row = await repo.findOne({ where: { digest: digest(token) } });
    if (!row) return { outcome: 'unknown' };
    if (row.clientId !== null && row.clientId !== clientId) return { outcome: 'other-client' };
    const result = await repo
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'now()' })
      .where('family_id = :familyId AND revoked_at IS NULL', { familyId: row.familyId })
      .execute();
    return {
      outcome: 'revoked',
      subject: row.subject,
      familyId: row.familyId,
      revoked: result.affected ?? 0,
    };
  }

  private async insert(
    repo: ReturnType<DataSource['getRepository']>,
    grant: RefreshGrant,
    familyId: string,
  ): Promise<string> {
    const refreshToken = PREFIX + randomBytes(32).toString('base64url');
    await repo.insert({
      digest: digest(refreshToken),
      familyId,
      subject: grant.subject,
      clientId: grant.clientId ?? null,
      scopes: grant.scopes,
      roles: grant.roles,
      claims: grant.claims ?? {},
      expiresAt: new Date(Date.now() + this.config.refreshTokenTtl * 1000),
    });
    return refreshToken;
  }
}
