import {
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { every, PeriodicJob } from '../common/periodic';
import { PgListener } from '../database/pg-listener';
import type { CascadeOutcome } from '../revocation/revocation-cascade';
import { RevocationEntry, uuidWords } from '../revocation/revocation-index';
import { RevocationsService } from '../revocation/revocations.service';
import { ParentTokenEntity } from './parent-token.entity';

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

export const CHILD_TOKENS_CHANNEL = 'tessera_child_tokens';

export interface NewParent {
  jti: string;
  kid: string;
  subject: string;
  clientId?: string;
  scopes: string[];
  roles: string[];
  claims: Record<string, unknown>;
  childExpiresIn: number;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The claims of a child token (signed again on demand by whoever serves it). */
export type ChildClaims = Record<string, unknown> & { jti: string; exp: number };

export interface ChildEvent {
  parentJti: string;
  claims: ChildClaims;
}

/**
 * The registry of parent tokens: what their children carry, whether they are live, and their
 * newest child. New children are announced with NOTIFY so every replica's SSE streams see them.
 */
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

@Injectable()
export class ParentTokensService
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('ParentTokens');
  private readonly childListeners = new Set<(event: ChildEvent) => void>();
  private job?: PeriodicJob;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly listener: PgListener,
    revocations: RevocationsService,
  ) {
    revocations.cascade((manager, revoked) => this.revokeWith(manager, revoked));
  }

  /**
   * What a revocation implies for parents, in its transaction: a revoked parent jti marks the
   * parent revoked (its renewal stops; its children fall by `parent_jti`); revoking a subject or
   * client revokes their live parents by jti too.
   */
  private async revokeWith(
    manager: EntityManager,
    revoked: RevocationEntry,
  ): Promise<CascadeOutcome> {
    if (revoked.kind === 'jti') {
      if (!uuidWords(revoked.value)) return {};
      const rows = (await manager.query(
        `UPDATE parent_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE jti = $1
         RETURNING expires_at`,
        [revoked.value],
      )) as [Array<{ expires_at: Date }>, number];
      const parent = rows[0]?.[0];
      return parent ? { expiresAt: seconds(parent.expires_at) } : {};
    }
    const column = revoked.kind === 'subject' ? 'subject' : 'client_id';
    const parents = (await manager.query(
      `UPDATE parent_tokens SET revoked_at = now()
        WHERE ${column} = $1 AND revoked_at IS NULL AND expires_at > now()
        RETURNING jti, expires_at`,
      [revoked.value],
    )) as [Array<{ jti: string; expires_at: Date }>, number];
    return {
      entries: parents[0].map((p): RevocationEntry => ({
        kind: 'jti',
        value: p.jti,
        expiresAt: seconds(p.expires_at),
      })),
    };
  }

  /** Deletes parents past their expiry (their revocations expire with them). */
  async purge(): Promise<void> {
    await this.dataSource.query('DELETE FROM parent_tokens WHERE expires_at < now()');
  }

  onApplicationBootstrap(): void {
    this.job = every(
      PURGE_INTERVAL_MS,
      () => this.purge(),
      (e) => this.logger.error(`Parent token purge failed: ${e.message}`),
    );
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  async onModuleInit(): Promise<void> {
    await this.listener.subscribe(CHILD_TOKENS_CHANNEL, (payload) => {
      let event: ChildEvent;
      try {
        event = JSON.parse(payload) as ChildEvent;
      } catch {
        return;
      }
      for (const listener of this.childListeners) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error(`Child-token listener failed: ${String(error)}`);
        }
      }
    });
  }

  /** Calls `listener` for every child minted on any replica. */
  onChild(listener: (event: ChildEvent) => void): () => void {
    this.childListeners.add(listener);
    return () => this.childListeners.delete(listener);
  }

  /** Records a new parent (before its token is handed out). */
  async register(parent: NewParent): Promise<void> {
    await this.dataSource.getRepository(ParentTokenEntity).insert({
      jti: parent.jti,
      kid: parent.kid,
      subject: parent.subject,
      clientId: parent.clientId ?? null,
      scopes: parent.scopes,
      roles: parent.roles,
      claims: parent.claims as never,
      childExpiresIn: parent.childExpiresIn,
      expiresAt: new Date(parent.expiresAt * 1000),
    });
  }

  async find(jti: string): Promise<ParentTokenEntity | undefined> {
    // Parent jtis are UUIDs (the column's type); anything else is simply not a parent.
    if (!uuidWords(jti)) return undefined;
    return (
      (await this.dataSource.getRepository(ParentTokenEntity).findOne({ where: { jti } })) ??
      undefined
    );
  }

  /**
   * Mints and records a child of a live parent, under a row lock so concurrent renewals (the
   * worker on several replicas, `POST /renew`) are serialized. Returns undefined when the parent
   * is unknown, revoked or expired, or `mint` declines it (its signing key is gone).
   */
  async renew(
    jti: string,
    mint: (parent: ParentTokenEntity) => ChildClaims | undefined,
  ): Promise<ChildClaims | undefined> {
    if (!uuidWords(jti)) return undefined;
    return this.dataSource.transaction(async (manager) => {
      const parent = await manager.getRepository(ParentTokenEntity).findOne({
        where: { jti },
        lock: { mode: 'pessimistic_write' },
      });
      if (!parent || parent.revokedAt || parent.expiresAt.getTime() <= Date.now()) return undefined;
      const claims = mint(parent);
      if (claims) await this.record(manager, parent.jti, claims);
      return claims;
    });
  }

  /**
   * One pass of the auto-renewal worker: every live parent whose newest child expires within
   * `thresholdSeconds` (and does not already last until the parent's own expiry) gets a new
   * child. `FOR UPDATE SKIP LOCKED` lets several replicas run the pass at once without minting
   * two children for one parent: a row another replica holds is skipped, and a row renewed by
   * another replica no longer matches the condition once its lock is released. A parent `mint`
   * declines (its signing key was retired by a hard rotation) is retired from renewal.
   */
  async renewDue(
    thresholdSeconds: number,
    mint: (parent: ParentTokenEntity) => ChildClaims | undefined,
    batch = 100,
  ): Promise<number> {
    let renewed = 0;
    // A child minted in this pass (iat >= passStart) is never picked again in the same pass, even
    // when children live shorter than the threshold: the batches end.
    const passStart = Math.floor(Date.now() / 1000);
    for (;;) {
      const { found, minted } = await this.dataSource.transaction(async (manager) => {
        const due = await manager
          .getRepository(ParentTokenEntity)
          .createQueryBuilder('p')
          .where('p.revoked_at IS NULL')
          .andWhere('p.expires_at > now()')
          .andWhere('p.latest_child_expires_at IS NOT NULL')
          .andWhere('p.latest_child_expires_at < now() + make_interval(secs => :threshold)', {
            threshold: thresholdSeconds,
          })
          .andWhere('p.latest_child_expires_at < p.expires_at')
          .andWhere("(p.latest_child->>'iat')::bigint < :passStart", { passStart })
          .orderBy('p.latest_child_expires_at')
          .limit(batch)
          .setLock('pessimistic_write')
          .setOnLocked('skip_locked')
          .getMany();
        let minted = 0;
        for (const parent of due) {
          const claims = mint(parent);
          if (claims) {
            await this.record(manager, parent.jti, claims);
            minted++;
          } else
            await manager
              .getRepository(ParentTokenEntity)
              .update({ jti: parent.jti }, { latestChildExpiresAt: null });
        }
        return { found: due.length, minted };
      });
      renewed += minted;
      if (found < batch) return renewed;
    }
  }

  private async record(manager: EntityManager, parentJti: string, claims: ChildClaims) {
    await manager
      .getRepository(ParentTokenEntity)
      .update(
        { jti: parentJti },
        { latestChild: claims as never, latestChildExpiresAt: new Date(claims.exp * 1000) },
      );
    const event: ChildEvent = { parentJti, claims };
    await manager.query('SELECT pg_notify($1, $2)', [CHILD_TOKENS_CHANNEL, JSON.stringify(event)]);
  }
}
