import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import { Gauge } from 'prom-client';
import { DataSource, EntityManager } from 'typeorm';
import {
  RevokedTokenError,
  ServiceUnavailableError,
  ValidationFailedError,
} from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { DatabaseLocator } from '../database/database-locator';
import { PgListener } from '../database/pg-listener';
import { MetricsService } from '../metrics/metrics.service';
import { RefreshTokensService } from './refresh-tokens.service';
import { RevocationEntity } from './revocation.entity';
import { RevocableToken, RevocationEntry, RevocationIndex, uuidWords } from './revocation-index';
import { every, PeriodicJob } from '../common/periodic';

export const REVOCATIONS_CHANNEL = 'tessera_revocations';
/** NOTIFY payloads must stay under PostgreSQL's 8000-byte limit. */
const MAX_PAYLOAD = 7000;
const PURGE_INTERVAL_MS = 10 * 60 * 1000;
/**
 * How long a replica keeps verifying against its last synced index after losing the LISTEN
 * connection. Past this, authenticated requests fail with 503 rather than risk honouring a
 * revocation it never heard of. Readiness goes down at once, so a load balancer drains it first.
 */
export const MAX_UNSYNCED_MS = 30_000;

/** Wire form of an entry: [kind initial, value, revoked_before, expires_at]. */
type WireEntry = ['j' | 's' | 'c', string, number, number];

export interface RevokeOutcome {
  /** The revocation entries written (a subject revocation also revokes the subject's parents). */
  entries: RevocationEntry[];
  /** Refresh tokens revoked along with it. */
  refreshTokens: number;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * The single owner of "is this token still good". Every revocation is committed to PostgreSQL
 * before the call returns, announced with NOTIFY in the same transaction, and applied to an
 * in-memory {@link RevocationIndex} on every replica, so the verify path never queries the
 * database. The index is loaded in full at start and again after the LISTEN connection was lost.
 */
@Injectable()
export class RevocationService
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('Revocation');
  private index = new RevocationIndex();
  private synced = false;
  /** Entries heard while a resync is loading, replayed into the new index before the swap. */
  private pending?: RevocationEntry[];
  /** Last time (ms) the index was known to be in sync; checked by a timer, not per request. */
  private lastInSync = 0;
  private syncWatch?: NodeJS.Timeout;
  private resyncRun?: Promise<void>;
  private resyncAgain = false;
  private job?: PeriodicJob;
  private readonly jtiListeners = new Set<(jti: string) => void>();
  /** Longest lifetime of any token we issue: how long a subject or client cut-off must be kept. */
  readonly maxTokenLifetime: number;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    private readonly listener: PgListener,
    private readonly locator: DatabaseLocator,
    private readonly refreshTokens: RefreshTokensService,
    metrics: MetricsService,
  ) {
    this.maxTokenLifetime = Math.max(
      config.accessTokenTtl,
      config.parentTokenTtl,
      config.refreshTokenTtl,
    );
    this.registerMetrics(metrics);
  }

  /** Gauges read at scrape time from the index (never updated on the request path). */
  private registerMetrics(metrics: MetricsService): void {
    // prom-client calls collect() with the gauge as `this`; read the index through closures.
    const sizes = () => this.index.size;
    const bytes = () => this.index.bytes;
    const inSync = () => this.isSynced;
    new Gauge({
      name: 'tessera_revocations',
      help: 'Live revocations held in this replica’s index, by kind',
      labelNames: ['kind'] as const,
      registers: [metrics.registry],
      collect() {
        const size = sizes();
        this.set({ kind: 'jti' }, size.jtis);
        this.set({ kind: 'subject' }, size.subjects);
        this.set({ kind: 'client' }, size.clients);
      },
    });
    new Gauge({
      name: 'tessera_revocation_index_bytes',
      help: 'Approximate memory of this replica’s revocation index',
      registers: [metrics.registry],
      collect() {
        this.set(bytes());
      },
    });
    new Gauge({
      name: 'tessera_revocation_in_sync',
      help: '1 while the revocation index is in sync with PostgreSQL',
      registers: [metrics.registry],
      collect() {
        this.set(inSync() ? 1 : 0);
      },
    });
  }

  async onModuleInit(): Promise<void> {
    // LISTEN first, then load: nothing committed in between can be missed.
    await this.listener.subscribe(
      REVOCATIONS_CHANNEL,
      (payload) => this.onNotification(payload),
      () => this.resync(),
    );
    await this.resync();
  }

  onApplicationBootstrap(): void {
    this.job = every(
      PURGE_INTERVAL_MS,
      () => this.purge(),
      (e) => this.logger.error(`Revocation purge failed: ${e.message}`),
    );
    this.syncWatch = setInterval(() => {
      if (this.isSynced) this.lastInSync = Date.now();
    }, 1000);
    this.syncWatch.unref();
  }

  onApplicationShutdown(): void {
    this.job?.stop();
    if (this.syncWatch) clearInterval(this.syncWatch);
  }

  /** True once the index holds everything committed and the LISTEN connection is up. */
  get isSynced(): boolean {
    return this.synced && this.listener.isConnected && this.pending === undefined;
  }

  /** Counts and approximate bytes of the in-memory index (for metrics and the benchmark). */
  get indexStats() {
    return { ...this.index.size, bytes: this.index.bytes };
  }

  /**
   * Hot path, no I/O: is this token revoked by jti, by its parent, by its subject or its client?
   * @throws ServiceUnavailableError when the index has been out of sync for too long.
   */
  isRevoked(token: RevocableToken): boolean {
    if (!this.isSynced && Date.now() - this.lastInSync > MAX_UNSYNCED_MS)
      throw new ServiceUnavailableError('Revocation list is out of sync; try again shortly');
    return this.index.isRevoked(token);
  }

  /** Throws {@link RevokedTokenError} (401 `revoked_token`) when the token is revoked. */
  assertNotRevoked(token: RevocableToken): void {
    if (this.isRevoked(token)) throw new RevokedTokenError();
  }

  /** Calls `listener` with every revoked jti this replica hears of (from any replica). */
  onJtiRevoked(listener: (jti: string) => void): () => void {
    this.jtiListeners.add(listener);
    return () => this.jtiListeners.delete(listener);
  }

  /**
   * The stored revocations, newest first, for the admin listing. `cursor` is the `next_cursor`
   * of the previous page (keyset pagination over created_at, kind, value).
   */
  async list(filter: {
    kind?: 'jti' | 'subject' | 'client';
    cursor?: string;
    limit?: number;
  }): Promise<{
    revocations: Array<{
      kind: string;
      value: string;
      revoked_before: Date | null;
      expires_at: Date;
      reason: string | null;
      created_at: Date;
    }>;
    next_cursor: string | null;
  }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
    const query = this.dataSource
      .getRepository(RevocationEntity)
      .createQueryBuilder('r')
      // Milliseconds, as the cursor carries them (a JS Date), so paging never skips a row.
      .orderBy("date_trunc('milliseconds', r.created_at)", 'DESC')
      .addOrderBy('r.kind', 'DESC')
      .addOrderBy('r.value', 'DESC')
      .limit(limit + 1);
    if (filter.kind) query.andWhere('r.kind = :kind', { kind: filter.kind });
    if (filter.cursor) {
      const [at, kind, value] = decodeListCursor(filter.cursor);
      query.andWhere(
        "(date_trunc('milliseconds', r.created_at), r.kind, r.value) < (:at, :ckind, :value)",
        {
          at,
          ckind: kind,
          value,
        },
      );
    }
    const rows = await query.getMany();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      revocations: page.map((r) => ({
        kind: r.kind,
        value: r.value,
        revoked_before: r.revokedBefore,
        expires_at: r.expiresAt,
        reason: r.reason,
        created_at: r.createdAt,
      })),
      next_cursor:
        rows.length > limit && last
          ? Buffer.from(
              JSON.stringify([last.createdAt.toISOString(), last.kind, last.value]),
            ).toString('base64url')
          : null,
    };
  }

  /**
   * Revokes one token by jti. When it is a parent, the parent is marked revoked too, which stops
   * its renewal; its children are rejected through their `parent_jti`.
   * @param expiresAt the token's `exp` (epoch seconds) when known; otherwise the longest lifetime.
   */
  async revokeJti(jti: string, expiresAt?: number, reason?: string): Promise<RevokeOutcome> {
    const entries = await this.dataSource.transaction(async (manager) => {
      let exp = expiresAt ?? Math.floor(Date.now() / 1000) + this.maxTokenLifetime;
      if (uuidWords(jti)) {
        const rows = (await manager.query(
          `UPDATE parent_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE jti = $1
           RETURNING expires_at`,
          [jti],
        )) as [Array<{ expires_at: Date }>, number];
        const parent = rows[0]?.[0];
        if (parent) exp = seconds(parent.expires_at);
      }
      const entry: RevocationEntry = { kind: 'jti', value: jti, expiresAt: exp };
      await this.write(manager, [entry], reason);
      return [entry];
    });
    this.applyAll(entries);
    return { entries, refreshTokens: 0 };
  }

  /**
   * Revokes every token of a subject issued up to now ("revoked before T", which also covers
   * tokens nobody can list), its parents (so their children and renewals stop) and its refresh
   * tokens.
   */
  async revokeSubject(subject: string, reason?: string): Promise<RevokeOutcome> {
    return this.revokeAll('subject', subject, reason);
  }

  /** Revokes every token issued to a client up to now, its parents and its refresh tokens. */
  async revokeClient(clientId: string, reason?: string): Promise<RevokeOutcome> {
    return this.revokeAll('client', clientId, reason);
  }

  /** Deletes rows whose covered tokens have all expired, and drops them from the index. */
  async purge(): Promise<number> {
    const result = (await this.dataSource.query(
      'DELETE FROM revocations WHERE expires_at < now()',
    )) as [unknown[], number];
    await this.dataSource.query('DELETE FROM parent_tokens WHERE expires_at < now()');
    this.index.compact(Math.floor(Date.now() / 1000));
    return result[1] ?? 0;
  }

  /**
   * Rebuilds the index from the table into a fresh one and swaps it in; entries notified while
   * loading are replayed, so the swap loses nothing. Streams the rows (array mode on a dedicated
   * connection) because a million revocations must load in seconds.
   */
  resync(): Promise<void> {
    // One load at a time; a resync asked for during a load runs once more after it.
    if (this.resyncRun) {
      this.resyncAgain = true;
      return this.resyncRun;
    }
    this.resyncRun = (async () => {
      try {
        do {
          this.resyncAgain = false;
          await this.load();
        } while (this.resyncAgain);
      } finally {
        this.resyncRun = undefined;
      }
    })();
    return this.resyncRun;
  }

  private async load(): Promise<void> {
    this.pending = [];
    this.synced = false;
    try {
      const client = new Client({ connectionString: await this.locator.url() });
      await client.connect();
      let next: RevocationIndex;
      try {
        const count = (
          await client.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM revocations WHERE expires_at >= now()',
          )
        ).rows[0].n;
        next = new RevocationIndex(count);
        const result = await client.query<[string, string, number | null, number]>({
          text: `SELECT kind, value, floor(extract(epoch FROM revoked_before))::float8,
                        floor(extract(epoch FROM expires_at))::float8
                   FROM revocations WHERE expires_at >= now()`,
          rowMode: 'array',
        });
        for (const [kind, value, before, exp] of result.rows) {
          next.apply(
            kind === 'jti'
              ? { kind: 'jti', value, expiresAt: exp }
              : {
                  kind: kind as 'subject' | 'client',
                  value,
                  revokedBefore: before ?? 0,
                  expiresAt: exp,
                },
          );
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      for (const entry of this.pending) next.apply(entry);
      this.index = next;
      this.synced = true;
      this.lastInSync = Date.now();
      this.logger.log(`Revocation index loaded (${next.size.jtis} jtis)`);
    } finally {
      this.pending = undefined;
    }
  }

  private async revokeAll(kind: 'subject' | 'client', value: string, reason?: string) {
    const now = Math.floor(Date.now() / 1000);
    const entries = await this.dataSource.transaction(async (manager) => {
      const column = kind === 'subject' ? 'subject' : 'client_id';
      const parents = (await manager.query(
        `UPDATE parent_tokens SET revoked_at = now()
          WHERE ${column} = $1 AND revoked_at IS NULL AND expires_at > now()
          RETURNING jti, expires_at`,
        [value],
      )) as [Array<{ jti: string; expires_at: Date }>, number];
      const written: RevocationEntry[] = [
        { kind, value, revokedBefore: now, expiresAt: now + this.maxTokenLifetime },
        ...parents[0].map((p): RevocationEntry => ({
          kind: 'jti',
          value: p.jti,
          expiresAt: seconds(p.expires_at),
        })),
      ];
      await this.write(manager, written, reason);
      return written;
    });
    this.applyAll(entries);
    const refreshTokens =
      kind === 'subject'
        ? await this.refreshTokens.revokeSubject(value)
        : await this.refreshTokens.revokeClient(value);
    return { entries, refreshTokens };
  }

  /** Upserts the rows (keeping the later cut-off and expiry) and queues their NOTIFY. */
  private async write(manager: EntityManager, entries: RevocationEntry[], reason?: string) {
    // One statement however many rows (a subject may have many parents).
    await manager.query(
      `INSERT INTO revocations (kind, value, revoked_before, expires_at, reason)
       SELECT k, v, to_timestamp(b), to_timestamp(e), $5
         FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS t(k, v, b, e)
       ON CONFLICT (kind, value) DO UPDATE SET
         revoked_before = greatest(revocations.revoked_before, excluded.revoked_before),
         expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
      [
        entries.map((e) => e.kind),
        entries.map((e) => e.value),
        entries.map((e) => (e.kind === 'jti' ? null : e.revokedBefore)),
        entries.map((e) => e.expiresAt),
        reason ?? null,
      ],
    );
    // NOTIFY is delivered on commit only, so no replica hears of a revocation that rolled back.
    let batch: WireEntry[] = [];
    let size = 2;
    for (const entry of entries) {
      const wire: WireEntry = [
        entry.kind === 'jti' ? 'j' : entry.kind === 'subject' ? 's' : 'c',
        entry.value,
        entry.kind === 'jti' ? 0 : entry.revokedBefore,
        entry.expiresAt,
      ];
      const length = JSON.stringify(wire).length + 1;
      if (size + length > MAX_PAYLOAD && batch.length) {
        await manager.query('SELECT pg_notify($1, $2)', [
          REVOCATIONS_CHANNEL,
          JSON.stringify(batch),
        ]);
        batch = [];
        size = 2;
      }
      batch.push(wire);
      size += length;
    }
    if (batch.length)
      await manager.query('SELECT pg_notify($1, $2)', [REVOCATIONS_CHANNEL, JSON.stringify(batch)]);
  }

  private onNotification(payload: string): void {
    let wires: WireEntry[];
    try {
      wires = JSON.parse(payload) as WireEntry[];
    } catch {
      this.logger.error('Malformed revocation notification ignored');
      return;
    }
    this.applyAll(
      wires.map(([k, value, before, exp]): RevocationEntry =>
        k === 'j'
          ? { kind: 'jti', value, expiresAt: exp }
          : {
              kind: k === 's' ? 'subject' : 'client',
              value,
              revokedBefore: before,
              expiresAt: exp,
            },
      ),
    );
  }

  private applyAll(entries: RevocationEntry[]): void {
    for (const entry of entries) {
      this.index.apply(entry);
      this.pending?.push(entry);
      if (entry.kind === 'jti') {
        for (const listener of this.jtiListeners) {
          try {
            listener(entry.value);
          } catch (error) {
            this.logger.error(`Revocation listener failed: ${String(error)}`);
          }
        }
      }
    }
  }
}

function decodeListCursor(cursor: string): [string, string, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 3 &&
      parsed.every((part) => typeof part === 'string') &&
      !Number.isNaN(Date.parse(parsed[0]))
    )
      return parsed as [string, string, string];
  } catch {
    // fall through
  }
  throw new ValidationFailedError('cursor: not a cursor returned by this endpoint');
}
