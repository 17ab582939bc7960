import { advisoryXactLock } from '../database/advisory-lock';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { Counter, Gauge } from 'prom-client';
import { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { isDigits, keysetPage } from '../common/keyset-page';
import { every, PeriodicJob } from '../common/periodic';
import type { RequestInfo } from '../common/request-context';
import { auditConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { BrokenLink, ChainWalker, eventFields, GENESIS_HASH } from './audit-chain';
import { AuditEventEntity, AuditOutcome } from './audit-event.entity';
import { AuditWriter, PreparedEvent } from './audit-writer';
import { ChainAppender } from './chain-appender';
import { cleanDetails, text } from './audit-details';
import { looksLikeCredential } from '../common/credential-shape';

export interface AuditRecord {
  action: string;
  outcome: AuditOutcome;
  actor?: string;
  actorMethod?: string;
  target?: string;
  /** The request the event happened in: the defaults of `ip`, `requestId` and `userAgent`. */
  request?: RequestInfo;
  /** Default: the request's address. */
  ip?: string;
  /** Default: the request's id. */
  requestId?: string;
  /** Default: the request's user agent. */
  userAgent?: string;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  /** The request the events happened in. */
  requestId?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit?: number;
}

/** An event as listed and exported: every field, `null` when unknown (one shape for every event). */
export interface AuditEventView {
  id: string;
  at: Date;
  actor: string | null;
  actorMethod: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage {
  events: AuditEventView[];
  next_cursor: string | null;
}

/** The answer of `GET /admin/audit/verify` and `tessera audit verify`. */
export interface ChainVerification {
  intact: boolean;
  checked: number;
  first_broken: BrokenLink | null;
}

export interface PurgeResult {
  purged: number;
  /** The anchor recorded: the last purged event's id and hash, which the next event links to. */
  anchor?: { through_id: string; hash: string };
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const MIN_PURGE_INTERVAL_MS = 60 * 1000;
/** After a start: once the replica is serving (not on the start-up path). */
const FIRST_PURGE_DELAY_MS = 10_000;
const PURGE_LOCK = 'tessera:audit-purge';
const SCAN_BATCH = 2000;
/** Keys whose values must never reach the audit trail, whatever a caller passes in details. */
// `key` alone: an API key in an admin answer (the create response shows it once).

/**
 * The audit trail: the one entry point every module records through (`record`), and the
 * listing, export, chain verification and retention behind `/admin/audit` and `tessera audit`.
 *
 * `record` never throws into the caller and never waits for PostgreSQL on the caller's behalf
 * unless awaited: events are buffered and written in batches by {@link AuditWriter} (bounded,
 * spilled to DATA_DIR when PostgreSQL is down, flushed before the database stops at shutdown).
 * The returned promise resolves once the event is stored (or spilled): await it where an event
 * must be durable before answering (admin changes), `void` it elsewhere.
 */
@Injectable()
export class AuditService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('Audit');
  private readonly writer: AuditWriter;
  private readonly appender: ChainAppender;
  /** Counts events stored (`tessera_audit_events_written_total`) outside the writer. */
  private readonly written: (n: number) => void;
  private job?: PeriodicJob;
  private firstPurge?: NodeJS.Timeout;

  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(auditConfig.KEY) private readonly config: ConfigType<typeof auditConfig>,
    metrics: MetricsService,
  ) {
    const counters = registerAuditMetrics(metrics, () => this.writer.depth);
    this.appender = new ChainAppender(dataSource);
    this.written = (n) => counters.written.inc(n);
    this.writer = new AuditWriter(
      this.appender,
      {
        bufferMax: config.bufferMax,
        spillDir: config.spillDir,
        intervalMs: config.writeIntervalMs,
      },
      {
        written: this.written,
        spilled: (n) => counters.spilled.inc(n),
        dropped: (n) => counters.dropped.inc(n),
      },
      this.logger,
    );
  }

  onApplicationBootstrap(): void {
    this.writer.notePendingSpills(); // replay what an earlier run could not write
    // Retention is enforced soon after every start, then every hour (or every half retention
    // when that is shorter): a replica restarted more often than hourly still purges.
    const interval = Math.min(
      PURGE_INTERVAL_MS,
      Math.max(MIN_PURGE_INTERVAL_MS, (this.config.retentionSeconds * 1000) / 2),
    );
    const failed = (e: Error) => this.logger.warn(`Audit purge failed: ${e.message}`);
    this.job = every(interval, () => this.purge(), failed);
    this.firstPurge = setTimeout(
      () => void this.purge().catch((e: unknown) => failed(e as Error)),
      FIRST_PURGE_DELAY_MS,
    ).unref();
  }

  /** Before the database stops (its connections close in onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.firstPurge);
    this.job?.stop();
    await this.writer.flush(5000, true); // what cannot be written in 5 s is spilled to DATA_DIR
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  /**
   * Records one event, off the request path: buffered and written with the next batch; while
   * PostgreSQL is down it waits in the bounded buffer (spilled to DATA_DIR only when the buffer
   * is full). Never throws. Request id, address and user agent default to the request being
   * served.
   */
  record(event: AuditRecord): void {
    const prepared = this.prepared(event);
    if (prepared) this.writer.enqueue(prepared);
  }

  /**
   * {@link record}, resolving once the event is durable: stored, or — PostgreSQL refusing the
   * write — spilled to DATA_DIR at once with what is buffered before it (so an admin change's
   * answer is not held for the whole outage). Never rejects. For events that must be durable
   * before the answer: admin changes, the CLI's.
   */
  recordDurably(event: AuditRecord): Promise<void> {
    const prepared = this.prepared(event);
    if (!prepared) return Promise.resolve();
    return new Promise((resolve) => this.writer.enqueue(prepared, resolve));
  }

  private prepared(event: AuditRecord): PreparedEvent | undefined {
    try {
      return this.prepare(event);
    } catch (error) {
      this.logger.error(
        `Could not record audit event ${event.action}: ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  /** Writes everything buffered now (tests, the CLI, the benchmark); waits up to 2 minutes. */
  flush(): Promise<void> {
    return this.writer.flush(120_000, false);
  }

  /** Events buffered or being written. */
  get bufferDepth(): number {
    return this.writer.depth;
  }

  private prepare(event: AuditRecord): PreparedEvent {
    const request = event.request;
    const agent = event.userAgent ?? request?.headers['user-agent'];
    return {
      at: isoNow(),
      action: text(event.action) ?? 'unknown',
      outcome: event.outcome === 'success' ? 'success' : 'failure',
      actor: text(event.actor),
      actorMethod: text(event.actorMethod),
      // A credential given where an id belongs (a token as a jti) is not kept as the target.
      target: event.target && looksLikeCredential(event.target) ? '[redacted]' : text(event.target),
      ip: text(event.ip ?? request?.ip),
      userAgent: text(typeof agent === 'string' ? agent : undefined),
      requestId: text(event.requestId ?? request?.id),
      details: cleanDetails(event.details ?? {}, 0) as Record<string, unknown>,
    };
  }

  /** Newest first, with an opaque cursor for the next (older) page. */
  async list(filter: AuditFilter): Promise<AuditPage> {
    const page = await keysetPage(this.filtered(filter), {
      keys: [{ expr: 'e.id', valid: isDigits }],
      cursorOf: (e) => [e.id],
      cursor: filter.cursor,
      limit: filter.limit,
    });
    return { events: page.items.map(view), next_cursor: page.nextCursor };
  }

  /**
   * Every matching event, oldest first, as NDJSON lines (with `prev_hash` and `hash`, so a SIEM
   * can check the chain). Read in keyset batches: memory stays flat however long the trail.
   */
  async *exportLines(filter: Omit<AuditFilter, 'cursor' | 'limit'>): AsyncGenerator<string> {
    let after = '0';
    for (;;) {
      const rows = await this.filtered(filter)
        .andWhere('e.id > :after', { after })
        .orderBy('e.id', 'ASC')
        .limit(SCAN_BATCH)
        .getMany();
      for (const row of rows)
        yield JSON.stringify({ ...view(row), prev_hash: row.prevHash, hash: row.hash }) + '\n';
      if (rows.length < SCAN_BATCH) return;
      after = rows[rows.length - 1].id;
    }
  }

  /**
   * Walks the whole chain (from the last retention anchor) in one consistent snapshot and
   * reports the first broken link: an edited event (hash mismatch), a deleted one (gap), events
   * reordered or replaced (prev_hash mismatch), newest events removed (head mismatch).
   */
  async verify(): Promise<ChainVerification> {
    await this.writer.flush(30_000, false); // what this replica buffered belongs to the chain too
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      const [anchor] = (await runner.query(
        'SELECT through_id::text AS through_id, hash FROM audit_anchors ORDER BY id DESC LIMIT 1',
      )) as Array<{ through_id: string; hash: string }>;
      const [head] = (await runner.query(
        'SELECT last_id::text AS last_id, hash FROM audit_chain WHERE id = 1',
      )) as Array<{ last_id: string; hash: string }>;
      const walker = new ChainWalker(
        anchor
          ? { nextId: BigInt(anchor.through_id) + 1n, prevHash: anchor.hash }
          : { nextId: 1n, prevHash: GENESIS_HASH },
      );
      // The newest anchor must have its audit.purge event in the chain after it (the purge
      // commits both at once): an anchor written without one cuts events out unseen.
      let anchorAttested = !anchor;
      const attests = (row: AuditEventEntity) => {
        if (row.action !== 'audit.purge') return false;
        const named = (row.details as { anchor?: { through_id?: string; hash?: string } }).anchor;
        return named?.through_id === anchor?.through_id && named?.hash === anchor?.hash;
      };
      let after = anchor?.through_id ?? '0';
      // Rows before the anchor should not exist; the walk starts where the anchor says.
      const [{ min }] = (await runner.query('SELECT min(id)::text AS min FROM audit_events')) as [
        { min: string | null },
      ];
      if (min !== null && BigInt(min) <= BigInt(after)) after = (BigInt(min) - 1n).toString();
      for (;;) {
        // The entity's Date keeps milliseconds: whether the stored time has finer digits (an
        // edit the hash, taken over the millisecond, cannot see) is asked of PostgreSQL.
        const { entities: rows, raw } = await runner.manager
          .getRepository(AuditEventEntity)
          .createQueryBuilder('e')
          .addSelect('extract(microseconds FROM e.at)::bigint % 1000 <> 0', 'sub_ms')
          .where('e.id > :after', { after })
          .orderBy('e.id', 'ASC')
          .limit(SCAN_BATCH)
          .getRawAndEntities();
        let ok = true;
        for (const [i, row] of rows.entries()) {
          if (!(ok = walker.check(row, (raw[i] as { sub_ms: boolean }).sub_ms === true))) break;
          if (!anchorAttested && attests(row)) anchorAttested = true;
        }
        if (!ok || rows.length < SCAN_BATCH) break;
        after = rows[rows.length - 1].id;
      }
      if (head) walker.finish({ lastId: head.last_id, hash: head.hash });
      await runner.commitTransaction();
      const broken =
        walker.broken ??
        (anchor && !anchorAttested
          ? {
              id: anchor.through_id,
              reason: 'retention anchor without its audit.purge event in the chain (forged?)',
            }
          : undefined);
      return {
        intact: broken === undefined,
        checked: walker.checked,
        first_broken: broken ?? null,
      };
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * Deletes events older than AUDIT_RETENTION — always a prefix of the chain (up to the first
   * event still within retention, whatever the order of their times), and records an anchor:
   * the last deleted event's id and hash, to which the first remaining event links. The purge
   * itself is an audit event (`audit.purge`).
   */
  async purge(now = new Date()): Promise<PurgeResult> {
    const cutoff = new Date(now.getTime() - this.config.retentionSeconds * 1000);
    const result = await this.dataSource.transaction(async (manager) => {
      await advisoryXactLock(manager, PURGE_LOCK);
      const [bound] = (await manager.query(
        `SELECT COALESCE((SELECT min(id) - 1 FROM audit_events WHERE at >= $1),
                         (SELECT max(id) FROM audit_events))::text AS through`,
        [cutoff],
      )) as Array<{ through: string | null }>;
      const [first] = (await manager.query(
        'SELECT min(id)::text AS min FROM audit_events',
      )) as Array<{ min: string | null }>;
      if (bound.through === null || first.min === null || BigInt(bound.through) < BigInt(first.min))
        return { purged: 0 } as PurgeResult;
      const [last] = (await manager.query('SELECT hash FROM audit_events WHERE id = $1', [
        bound.through,
      ])) as Array<{ hash: string }>;
      const deleted = (await manager.query('DELETE FROM audit_events WHERE id <= $1', [
        bound.through,
      ])) as [unknown, number];
      const purged = Number(deleted[1] ?? 0);
      await manager.query(
        'INSERT INTO audit_anchors (through_id, hash, purged, cutoff) VALUES ($1, $2, $3, $4)',
        [bound.through, last.hash, purged, cutoff],
      );
      const anchor = { through_id: bound.through, hash: last.hash };
      // The purge is an audit event, committed with the anchor: verification requires the
      // newest anchor's event in the chain after it, so an anchor inserted by hand (to cut out
      // events) cannot pass without rewriting the chain from there on.
      await this.appender.appendIn(manager, [
        eventFields(
          this.prepare({
            action: 'audit.purge',
            outcome: 'success',
            actor: 'system',
            details: { purged, cutoff: cutoff.toISOString(), anchor },
          }),
        ),
      ]);
      return { purged, anchor };
    });
    if (result.purged > 0) this.written(1);
    return result;
  }

  private filtered(
    filter: Omit<AuditFilter, 'cursor' | 'limit'>,
  ): SelectQueryBuilder<AuditEventEntity> {
    const query = this.events.createQueryBuilder('e').where('TRUE');
    if (filter.action) {
      // `token.*` matches every action under `token.`.
      if (filter.action.endsWith('.*'))
        query.andWhere('e.action LIKE :prefix', {
          prefix: `${filter.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`,
        });
      else query.andWhere('e.action = :action', { action: filter.action });
    }
    if (filter.actor) query.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.target) query.andWhere('e.target = :target', { target: filter.target });
    if (filter.requestId)
      query.andWhere('e.request_id = :requestId', { requestId: filter.requestId });
    if (filter.outcome) query.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (filter.since) query.andWhere('e.at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('e.at < :until', { until: filter.until });
    return query;
  }
}

/** The time as ISO 8601 (millisecond precision), formatted once per millisecond however many events share it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== clock.ms) {
    clock.ms = now;
    clock.iso = new Date(now).toISOString();
  }
  return clock.iso;
}
const clock = { ms: -1, iso: '' };

function view(e: AuditEventEntity): AuditEventView {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor ?? null,
    actorMethod: e.actorMethod ?? null,
    action: e.action,
    target: e.target ?? null,
    outcome: e.outcome,
    ip: e.ip ?? null,
    userAgent: e.userAgent ?? null,
    requestId: e.requestId ?? null,
    details: e.details ?? {},
  };
}

function registerAuditMetrics(metrics: MetricsService, depth: () => number) {
  new Gauge({
    name: 'tessera_audit_buffer_depth',
    help: 'Audit events buffered in this replica, not yet written to PostgreSQL',
    registers: [metrics.registry],
    collect() {
      this.set(depth());
    },
  });
  return {
    written: new Counter({
      name: 'tessera_audit_events_written_total',
      help: 'Audit events written to PostgreSQL',
      registers: [metrics.registry],
    }),
    spilled: new Counter({
      name: 'tessera_audit_events_spilled_total',
      help: 'Audit events spilled to DATA_DIR/audit-spill (buffer full while PostgreSQL was unavailable)',
      registers: [metrics.registry],
    }),
    dropped: new Counter({
      name: 'tessera_audit_events_dropped_total',
      help: 'Audit events lost: neither written nor spilled (each drop is also logged)',
      registers: [metrics.registry],
    }),
  };
}
