import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { isTimestamp, keysetPage } from '../common/keyset-page';
import { every, PeriodicJob } from '../common/periodic';
import { looksLikeCredential } from '../common/credential-shape';
import { ValidationFailedError } from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { TokenVerifier } from '../keys/token-verifier';
import type { CascadeOutcome, RevocationCascade } from './revocation-cascade';
import { RevocationEntry } from './revocation-index';
import {
  MAX_NOTIFY_PAYLOAD,
  maxTokenLifetime,
  RevocationIndexService,
  REVOCATIONS_CHANNEL,
  toWire,
  WireEntry,
} from './revocation-index.service';
import { RevocationEntity } from './revocation.entity';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export interface RevokeOutcome {
  /** The revocation entries written (a subject revocation also revokes the subject's parents). */
  entries: RevocationEntry[];
  /** Refresh tokens revoked along with it. */
  refreshTokens: number;
}

export interface RevocationView {
  kind: string;
  value: string;
  revoked_before: Date | null;
  expires_at: Date;
  reason: string | null;
  created_at: Date;
}

/** The refusal of a credential given as a jti: it names what to do, never echoes the value. */
export const NOT_A_JTI =
  'jti: that is a token or an API key, not a jti (revoke a token with {"token": …}, a refresh token at /oauth/revoke, an API key with DELETE /admin/api-keys/{id})';

/**
 * Writes and lists revocations. Each revocation, and everything it implies (see
 * {@link RevocationCascade}), is committed in one transaction that also NOTIFYs every replica's
 * {@link RevocationIndexService}; the call returns only after the commit. The cascades are those
 * of the modules loaded beside this one: whatever revokes (the app, `tessera revoke`) loads
 * RefreshTokensModule and ParentTokensModule too.
 */
@Injectable()
export class RevocationsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Revocation');
  private readonly cascades: RevocationCascade[] = [];
  private readonly maxTokenLifetime: number;
  private job?: PeriodicJob;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    private readonly index: RevocationIndexService,
    private readonly verifier: TokenVerifier,
  ) {
    this.maxTokenLifetime = maxTokenLifetime(config);
  }

  onApplicationBootstrap(): void {
    this.job = every(
      PURGE_INTERVAL_MS,
      () => this.purge(),
      (e) => this.logger.error(`Revocation purge failed: ${e.message}`),
    );
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  /** Registers what revocations imply in another module's tables (called at its start). */
  cascade(cascade: RevocationCascade): void {
    this.cascades.push(cascade);
  }

  /** The stored revocations, newest first (keyset pagination over created_at, kind, value). */
  async list(filter: {
    kind?: 'jti' | 'subject' | 'client';
    cursor?: string;
    limit?: number;
  }): Promise<{ revocations: RevocationView[]; next_cursor: string | null }> {
    const query = this.dataSource.getRepository(RevocationEntity).createQueryBuilder('r');
    if (filter.kind) query.andWhere('r.kind = :kind', { kind: filter.kind });
    const page = await keysetPage(query, {
      // Milliseconds, as the cursor carries them (a JS Date), so paging never skips a row.
      keys: [
        { expr: "date_trunc('milliseconds', r.created_at)", valid: isTimestamp },
        { expr: 'r.kind' },
        { expr: 'r.value' },
      ],
      cursorOf: (r) => [r.createdAt.toISOString(), r.kind, r.value],
      cursor: filter.cursor,
      limit: filter.limit,
    });
    return {
      revocations: page.items.map((r) => ({
        kind: r.kind,
        value: r.value,
        revoked_before: r.revokedBefore,
        expires_at: r.expiresAt,
        reason: r.reason,
        created_at: r.createdAt,
      })),
      next_cursor: page.nextCursor,
    };
  }

  /**
   * Revokes one token by jti. When it is a parent, the parent registry marks it revoked in the
   * same transaction, which stops its renewal; its children are rejected by their `parent_jti`.
   * @param expiresAt the token's `exp` (epoch seconds) when known; otherwise the longest lifetime.
   */
  revokeJti(jti: string, expiresAt?: number, reason?: string): Promise<RevokeOutcome> {
    // A token or key pasted where its jti belongs would be stored (and answered, and audited)
    // as it is, a working credential at rest, while the token itself stayed valid.
    if (looksLikeCredential(jti)) throw new ValidationFailedError(NOT_A_JTI);
    const exp = expiresAt ?? Math.floor(Date.now() / 1000) + this.maxTokenLifetime;
    return this.revoke({ kind: 'jti', value: jti, expiresAt: exp }, reason);
  }

  /**
   * Revokes every token of a subject issued up to now ("revoked before T", to the millisecond,
   * which also covers tokens nobody can list), with its parents and refresh tokens.
   *
   * `alongside` is a change that implies the revocation (a user disabled, deleted, given a new
   * password): it runs in the same transaction, before the revocation is written, so the two are
   * committed together or not at all. Committed apart, a failure or a crash between them left a
   * disabled user whose tokens still worked, and asking again did not revoke them (the user was
   * already disabled).
   */
  revokeSubject(
    subject: string,
    reason?: string,
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ): Promise<RevokeOutcome> {
    return this.revokeAll('subject', subject, reason, alongside);
  }

  /** Revokes every token issued to a client up to now, its parents and its refresh tokens. */
  revokeClient(
    clientId: string,
    reason?: string,
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ): Promise<RevokeOutcome> {
    return this.revokeAll('client', clientId, reason, alongside);
  }

  /**
   * `POST /revoke`, `DELETE /tokens/:jti`: by jti, by a token (any type, even expired; its
   * signature must verify, so a forged token cannot name a jti), or everything of a client.
   */
  async revokeRequested(
    input: { jti?: string; token?: string; client_id?: string },
    reason: string,
  ) {
    // `@IsOptional()` lets null through: null is "not given" (it once reached PostgreSQL: 500).
    const jti = input.jti ?? undefined;
    const token = input.token ?? undefined;
    const clientId = input.client_id ?? undefined;
    input = { jti, token, client_id: clientId };
    const given = [jti, token, clientId].filter((v) => v !== undefined);
    if (given.length !== 1)
      throw new ValidationFailedError('Give exactly one of jti, token or client_id');
    if (input.client_id !== undefined) {
      const outcome = await this.revokeClient(input.client_id, reason);
      return {
        revoked: true,
        client_id: input.client_id,
        parents_revoked: outcome.entries.filter((e) => e.kind === 'jti').length,
        refresh_tokens_revoked: outcome.refreshTokens,
      };
    }
    if (input.token !== undefined) {
      if (input.token.startsWith('rt_'))
        throw new ValidationFailedError('token: refresh tokens are revoked at /oauth/revoke');
      const verified = await this.verifier.tryVerify(input.token, { ignoreExpiration: true });
      if (!verified) throw new ValidationFailedError('token: not a token issued by this service');
      await this.revokeJti(verified.claims.jti, verified.claims.exp, reason);
      return { revoked: true, jti: verified.claims.jti };
    }
    await this.revokeJti(jti as string, undefined, reason);
    return { revoked: true, jti };
  }

  /** Deletes rows whose covered tokens have all expired, and drops them from the index. */
  async purge(): Promise<number> {
    const result = (await this.dataSource.query(
      'DELETE FROM revocations WHERE expires_at < now()',
    )) as [unknown[], number];
    this.index.compact(Math.floor(Date.now() / 1000));
    return result[1] ?? 0;
  }

  /**
   * "Revoked before T", T the moment the revocation is recorded, in milliseconds; a token is
   * revoked when issued at or before T (its UUIDv7 jti carries its millisecond; see
   * RevocationIndex). A token minted in T's own millisecond is revoked with it: it may have been
   * minted before, and nothing orders the two within one millisecond. The call returns only once
   * this machine's clock is past T, so a token minted here after it returned carries a later
   * millisecond and is good (in practice the commit already took longer than that).
   */
  private async revokeAll(
    kind: 'subject' | 'client',
    value: string,
    reason?: string,
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ) {
    let cutoff = Date.now();
    // Never a whole second: that reads as a cut-off from before milliseconds, covering all of its
    // second (cutoffMs). One millisecond later only adds that millisecond, before the return.
    if (cutoff % 1000 === 0) cutoff += 1;
    const outcome = await this.revoke(
      {
        kind,
        value,
        revokedBeforeMs: cutoff,
        expiresAt: Math.floor(cutoff / 1000) + this.maxTokenLifetime,
      },
      reason,
      alongside,
    );
    while (Date.now() <= cutoff) await new Promise((resolve) => setTimeout(resolve, 1));
    return outcome;
  }

  private async revoke(
    entry: RevocationEntry,
    reason?: string,
    alongside?: (manager: EntityManager) => Promise<unknown>,
  ): Promise<RevokeOutcome> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      if (alongside) await alongside(manager);
      let written = entry;
      const implied: RevocationEntry[] = [];
      let refreshTokens = 0;
      for (const cascade of this.cascades) {
        const result: CascadeOutcome = (await cascade(manager, entry)) ?? {};
        if (result.expiresAt !== undefined && written.kind === 'jti')
          written = { ...written, expiresAt: result.expiresAt };
        implied.push(...(result.entries ?? []));
        refreshTokens += result.refreshTokens ?? 0;
      }
      const entries = [written, ...implied];
      await this.write(manager, entries, reason);
      return { entries, refreshTokens };
    });
    this.index.applyCommitted(outcome.entries);
    return outcome;
  }

  /** Upserts the rows (keeping the later cut-off and expiry) and queues their NOTIFY. */
  private async write(manager: EntityManager, entries: RevocationEntry[], reason?: string) {
    // One statement however many rows (a subject may have many parents). The cut-off is written
    // in milliseconds; a stored whole second (a row from before milliseconds) stands for the end
    // of that second when compared, as the index reads it (cutoffMs).
    await manager.query(
      `INSERT INTO revocations (kind, value, revoked_before, expires_at, reason)
       SELECT k, v, to_timestamp(b / 1000), to_timestamp(e), $5
         FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS t(k, v, b, e)
       ON CONFLICT (kind, value) DO UPDATE SET
         revoked_before = greatest(
           CASE WHEN revocations.revoked_before = date_trunc('second', revocations.revoked_before)
                THEN revocations.revoked_before + interval '999 milliseconds'
                ELSE revocations.revoked_before END,
           excluded.revoked_before),
         expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
      [
        entries.map((e) => e.kind),
        entries.map((e) => e.value),
        entries.map((e) => (e.kind === 'jti' ? null : e.revokedBeforeMs)),
        entries.map((e) => e.expiresAt),
        reason ?? null,
      ],
    );
    // NOTIFY is delivered on commit only, so no replica hears of a revocation that rolled back.
    let batch: WireEntry[] = [];
    let size = 2;
    for (const entry of entries) {
      const wire = toWire(entry);
      const length = JSON.stringify(wire).length + 1;
      if (size + length > MAX_NOTIFY_PAYLOAD && batch.length) {
        await notify(manager, batch);
        batch = [];
        size = 2;
      }
      batch.push(wire);
      size += length;
    }
    if (batch.length) await notify(manager, batch);
  }
}

function notify(manager: EntityManager, batch: WireEntry[]): Promise<unknown> {
  return manager.query('SELECT pg_notify($1, $2)', [REVOCATIONS_CHANNEL, JSON.stringify(batch)]);
}
