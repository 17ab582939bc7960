import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Client } from 'pg';
import { Gauge } from 'prom-client';
import { holderOf, RevokedTokenError, ServiceUnavailableError } from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { DatabaseLocator } from '../database/database-locator';
import { SyncedView, SyncedViews } from '../database/synced-view';
import { MetricsService } from '../metrics/metrics.service';
import { RevocableToken, RevocationEntry, RevocationIndex } from './revocation-index';

export const REVOCATIONS_CHANNEL = 'tessera_revocations';
/** NOTIFY payloads must stay under PostgreSQL's 8000-byte limit. */
export const MAX_NOTIFY_PAYLOAD = 7000;
/**
 * How long a replica keeps verifying against its last synced index after losing the LISTEN
 * connection. Past this, authenticated requests fail with 503 rather than risk honouring a
 * revocation it never heard of. Readiness goes down at once, so a load balancer drains it first.
 */
export const MAX_UNSYNCED_MS = 30_000;

/**
 * Wire form of an entry in a NOTIFY payload: [kind initial, value, revoked_before in epoch
 * seconds (0 for a jti), expires_at in epoch seconds, revoked_before in epoch ms (subject and
 * client only)]. The cut-off goes twice: whole seconds where it always was, so a replica of an
 * earlier version (a rolling upgrade) still reads it its way ("iat ≤ T", which covers the whole
 * second: never less), and milliseconds last, which this version reads; an entry without them
 * (from an earlier version) is a whole-second cut-off.
 */
export type WireEntry = ['j' | 's' | 'c', string, number, number, number?];

export function toWire(entry: RevocationEntry): WireEntry {
  return entry.kind === 'jti'
    ? ['j', entry.value, 0, entry.expiresAt]
    : [
        entry.kind === 'subject' ? 's' : 'c',
        entry.value,
        Math.floor(entry.revokedBeforeMs / 1000),
        entry.expiresAt,
        entry.revokedBeforeMs,
      ];
}

export function fromWire([k, value, before, exp, beforeMs]: WireEntry): RevocationEntry {
  return k === 'j'
    ? { kind: 'jti', value, expiresAt: exp }
    : {
        kind: k === 's' ? 'subject' : 'client',
        value,
        revokedBeforeMs: typeof beforeMs === 'number' ? beforeMs : before * 1000,
        expiresAt: exp,
      };
}

/** The longest lifetime of any token Tessera issues: how long a cut-off must be kept. */
export function maxTokenLifetime(config: ConfigType<typeof jwtConfig>): number {
  return Math.max(config.accessTokenTtl, config.parentTokenTtl, config.refreshTokenTtl);
}

/**
 * This replica's answer to "is this token revoked": a compact in-memory {@link RevocationIndex}
 * kept in sync with the `revocations` table through a {@link SyncedView} (loaded in full at start
 * and after a lost LISTEN connection, then entry by entry from NOTIFY payloads), so the verify
 * path never queries the database. Writing and listing revocations is RevocationsService's.
 */
@Injectable()
export class RevocationIndexService
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('Revocation');
  private readonly view: SyncedView<RevocationIndex>;
  /** Last time (ms) the index was known to be in sync; checked by a timer, not per request. */
  private lastInSync = 0;
  private syncWatch?: NodeJS.Timeout;
  private readonly jtiListeners = new Set<(jti: string) => void>();
  readonly maxTokenLifetime: number;

  constructor(
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    private readonly locator: DatabaseLocator,
    views: SyncedViews,
    metrics: MetricsService,
  ) {
    this.maxTokenLifetime = maxTokenLifetime(config);
    this.view = views.create({
      name: 'revocations',
      channel: REVOCATIONS_CHANNEL,
      load: () => this.load(),
      apply: (index, payload) => this.applyPayload(index, payload),
      loaded: (index) => {
        this.lastInSync = Date.now();
        this.logger.log(`Revocation index loaded (${index.size.jtis} jtis)`);
      },
    });
    this.registerMetrics(metrics);
  }

  /** Gauges read at scrape time from the index (never updated on the request path). */
  private registerMetrics(metrics: MetricsService): void {
    // prom-client calls collect() with the gauge as `this`; read the index through closures.
    const sizes = () => this.view.current.size;
    const bytes = () => this.view.current.bytes;
    const inSync = () => this.isSynced;
    new Gauge({
      name: 'tessera_revocations',
      help: 'Live revocations held in this replica’s index, by kind',
      labelNames: ['kind'] as const,
      registers: [metrics.registry],
      aggregator: 'max', // cluster mode: every worker holds the same index
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
      aggregator: 'min', // cluster mode: 0 if any worker's index is not
      collect() {
        this.set(inSync() ? 1 : 0);
      },
    });
  }

  onModuleInit(): Promise<void> {
    return this.view.start();
  }

  onApplicationBootstrap(): void {
    this.syncWatch = setInterval(() => {
      if (this.isSynced) this.lastInSync = Date.now();
    }, 1000);
    this.syncWatch.unref();
  }

  onApplicationShutdown(): void {
    if (this.syncWatch) clearInterval(this.syncWatch);
  }

  /** True once the index holds everything committed and the LISTEN connection is up. */
  get isSynced(): boolean {
    return this.view.inSync;
  }

  /** Counts and approximate bytes of the in-memory index (for metrics and the benchmark). */
  get indexStats() {
    const index = this.view.current;
    return { ...index.size, bytes: index.bytes };
  }

  /**
   * Hot path, no I/O: is this token revoked by jti, by its parent, by its subject or its client?
   * @throws ServiceUnavailableError when the index has been out of sync for too long.
   */
  isRevoked(token: RevocableToken): boolean {
    if (!this.view.inSync && Date.now() - this.lastInSync > MAX_UNSYNCED_MS)
      throw new ServiceUnavailableError('Revocation list is out of sync; try again shortly');
    return this.view.current.isRevoked(token);
  }

  /** Throws {@link RevokedTokenError} (401 `revoked_token`) when the token is revoked. */
  assertNotRevoked(token: RevocableToken): void {
    if (this.isRevoked(token)) throw new RevokedTokenError(holderOf(token));
  }

  /** Calls `listener` with every revoked jti this replica hears of (from any replica). */
  onJtiRevoked(listener: (jti: string) => void): () => void {
    this.jtiListeners.add(listener);
    return () => this.jtiListeners.delete(listener);
  }

  /**
   * Applies entries this replica just committed, without waiting for its own NOTIFY (which
   * arrives too and is idempotent), so the writer's next request already sees them.
   */
  applyCommitted(entries: RevocationEntry[]): void {
    this.applyAll(this.view.current, entries);
  }

  /** Loads the index again (after a purge; a lost connection does it by itself). */
  resync(): Promise<void> {
    return this.view.reload();
  }

  /** Drops entries whose covered tokens have all expired. */
  compact(nowSeconds: number): void {
    this.view.current.compact(nowSeconds);
  }

  /**
   * A fresh index from the table. Streams the rows (array mode on a dedicated connection)
   * because a million revocations must load in seconds.
   */
  private async load(): Promise<RevocationIndex> {
    const client = new Client({ connectionString: await this.locator.url() });
    await client.connect();
    try {
      const count = (
        await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM revocations WHERE expires_at >= now()',
        )
      ).rows[0].n;
      const next = new RevocationIndex(count);
      // revoked_before in milliseconds (what is written is whole milliseconds; a row from before
      // millisecond cut-offs holds a whole second, which the index reads as all of that second).
      const result = await client.query<[string, string, number | null, number]>({
        text: `SELECT kind, value, round(extract(epoch FROM revoked_before) * 1000)::float8,
                      floor(extract(epoch FROM expires_at))::float8
                 FROM revocations WHERE expires_at >= now()`,
        rowMode: 'array',
      });
      for (const [kind, value, beforeMs, exp] of result.rows) {
        next.apply(
          kind === 'jti'
            ? { kind: 'jti', value, expiresAt: exp }
            : {
                kind: kind as 'subject' | 'client',
                value,
                revokedBeforeMs: beforeMs ?? 0,
                expiresAt: exp,
              },
        );
      }
      return next;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private applyPayload(index: RevocationIndex, payload: string): boolean {
    let wires: WireEntry[];
    try {
      wires = JSON.parse(payload) as WireEntry[];
    } catch {
      this.logger.error('Malformed revocation notification; reloading the index');
      return false;
    }
    this.applyAll(index, wires.map(fromWire));
    return true;
  }

  private applyAll(index: RevocationIndex, entries: RevocationEntry[]): void {
    for (const entry of entries) {
      index.apply(entry);
      if (entry.kind !== 'jti') continue;
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
