import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { readFileSync, unlinkSync } from 'node:fs';
import {
  claimSpillFile,
  newSpillId,
  spillFilesToReplay,
  writeSpillFile,
} from '../common/spill-files';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { ValidationFailedError } from '../common/errors';
import { every, PeriodicJob } from '../common/periodic';
import { databaseConfig } from '../config/configuration';

/** A `YYYY-MM-DD` that is also a real date (2026-02-30 is not). */
export function isRealDay(day: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
}

export interface UsageReport {
  object: 'usage';
  subject: string;
  total_requests: number;
  endpoints: Array<{ endpoint: string; requests: number; last_request_at: string }>;
  days: Array<{ day: string; requests: number }>;
  /** Model calls through the gateway, per model (all days). */
  models: Array<{ model: string } & UsageFigures>;
  totals: UsageFigures;
}

/** Requests, tokens and cost of a set of ledger rows. */
export interface UsageFigures {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number;
}

/** One model call, as the gateway settled it. */
export interface ModelUsage {
  subject: string;
  clientId?: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export type UsageGroup = 'day' | 'model' | 'subject';

export interface UsageQuery {
  subject?: string;
  clientId?: string;
  model?: string;
  /** Inclusive UTC days, `YYYY-MM-DD`. */
  since?: string;
  until?: string;
  groupBy: UsageGroup;
}

/** `GET /admin/usage` and `tessera usage`. */
export interface UsageSummary {
  group_by: UsageGroup;
  rows: Array<{ key: string } & UsageFigures>;
  totals: UsageFigures;
}

interface PendingModelUsage {
  subject: string;
  clientId: string;
  model: string;
  day: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

const FIGURES_SQL = `sum(requests)::text AS requests, sum(prompt_tokens)::text AS prompt_tokens,
  sum(completion_tokens)::text AS completion_tokens, sum(cost_usd)::text AS cost_usd`;

interface FigureRow {
  requests: string | null;
  prompt_tokens: string | null;
  completion_tokens: string | null;
  cost_usd: string | null;
}

function figures(row: FigureRow | undefined): UsageFigures {
  const prompt = Number(row?.prompt_tokens ?? 0);
  const completion = Number(row?.completion_tokens ?? 0);
  return {
    requests: Number(row?.requests ?? 0),
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost_usd: Number(Number(row?.cost_usd ?? 0).toFixed(9)),
  };
}

interface PendingCount {
  subject: string;
  endpoint: string;
  day: string;
  requests: number;
  /** Epoch milliseconds of the newest request counted. */
  last: number;
}

const DAY_MS = 86_400_000;
let today = { day: '', from: 0, until: 0 };

/** The UTC date (YYYY-MM-DD) of `now`: formatted once a day, not once a request. */
export function utcDay(now: number): string {
  if (now < today.from || now >= today.until) {
    const from = now - (now % DAY_MS);
    today = { day: new Date(from).toISOString().slice(0, 10), from, until: from + DAY_MS };
  }
  return today.day;
}

/** How often counts buffered in memory are added to PostgreSQL. */
const FLUSH_INTERVAL_MS = 1000;

const SPILL_SUFFIX = '.json';

/** What a shutdown could not add to PostgreSQL, kept in DATA_DIR/usage-spill for the next start. */
interface UsageSpill {
  /** Recorded in `usage_spill_replays` in the transaction that adds it: replayed once. */
  id: string;
  counts: PendingCount[];
  models: PendingModelUsage[];
}

/**
 * Request counts per principal (`Principal.subject`), endpoint and UTC day, in PostgreSQL so all
 * replicas add to the same rows. Requests are counted in memory and flushed once a second in one
 * statement: no database write on the request path, and no row-lock queue when one principal
 * sends many requests at once. A replica's own counts are flushed before it answers a read, so a
 * caller sees its requests to that replica at once and those to other replicas within a second.
 * A crash loses at most a second of counts: usage is informational, not billing-grade. A graceful
 * shutdown loses none: what PostgreSQL does not take then (it is down) is spilled to a file under
 * DATA_DIR/usage-spill and added at the next start (or as soon as PostgreSQL answers), each file
 * exactly once (its id is recorded in `usage_spill_replays` in the same transaction).
 *
 * Reads are always for one subject: there is no method returning another principal's data, so a
 * handler cannot leak it by mistake.
 */
@Injectable()
export class UsageService
  implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('Usage');
  private pending = new Map<string, PendingCount>();
  private pendingModels = new Map<string, PendingModelUsage>();
  private flushing: Promise<void> = Promise.resolve();
  private job?: PeriodicJob;
  private readonly spillDir: string;
  private spillsPending = true; // look once at start

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) config: ConfigType<typeof databaseConfig>,
  ) {
    this.spillDir = join(config.dataDir, 'usage-spill');
  }

  onModuleInit(): void {
    this.job = every(
      FLUSH_INTERVAL_MS,
      () => this.flush(),
      (e) => this.logger.warn(`Usage flush failed: ${e.message}`),
    );
  }

  /**
   * Flushes before the database is closed (shutdown hooks run after this one), so a SIGTERM
   * loses nothing that was counted; what PostgreSQL does not take is spilled to DATA_DIR.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.job?.stop();
    await this.flush();
    this.spillPending('PostgreSQL unavailable at shutdown');
  }

  /** Counts that arrived after the first flush (requests finishing while the server drained). */
  async onApplicationShutdown(): Promise<void> {
    if (this.pending.size === 0 && this.pendingModels.size === 0) return;
    if (this.dataSource.isInitialized) await this.flush();
    this.spillPending(
      this.dataSource.isInitialized
        ? 'PostgreSQL unavailable at shutdown'
        : 'the database closed first',
    );
  }

  /** Adds one model call to the ledger (in memory; flushed with the request counts). */
  recordModel(usage: ModelUsage): void {
    const day = utcDay(Date.now());
    const clientId = usage.clientId ?? '';
    const key = `${usage.subject}\u0000${clientId}\u0000${usage.model}\u0000${day}`;
    const entry = this.pendingModels.get(key);
    if (entry) {
      entry.requests += 1;
      entry.promptTokens += usage.promptTokens;
      entry.completionTokens += usage.completionTokens;
      entry.costUsd += usage.costUsd;
    } else
      this.pendingModels.set(key, {
        subject: usage.subject,
        clientId,
        model: usage.model,
        day,
        requests: 1,
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        costUsd: usage.costUsd,
      });
  }

  /**
   * The ledger summed per day, model or subject, filtered by any of subject, client, model and
   * an inclusive day range. At most 1,000 rows (newest days first; otherwise by key).
   */
  async summary(query: UsageQuery): Promise<UsageSummary> {
    for (const field of ['since', 'until'] as const) {
      const day = query[field];
      if (day !== undefined && !isRealDay(day))
        throw new ValidationFailedError(`${field} must be a real day such as 2026-11-01`, field);
    }
    if (query.since && query.until && query.since > query.until)
      throw new ValidationFailedError('since must not be after until', 'since');
    if (!['day', 'model', 'subject'].includes(query.groupBy))
      throw new ValidationFailedError('group_by must be day, model or subject', 'group_by');
    await this.flush();
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.subject !== undefined) add('subject = ?', query.subject);
    if (query.clientId !== undefined) add('client_id = ?', query.clientId);
    if (query.model !== undefined) add('model = ?', query.model);
    if (query.since !== undefined) add('day >= ?::date', query.since);
    if (query.until !== undefined) add('day <= ?::date', query.until);
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const keySql = { day: "to_char(day, 'YYYY-MM-DD')", model: 'model', subject: 'subject' }[
      query.groupBy
    ];
    const order = query.groupBy === 'day' ? 'key DESC' : 'key';
    const rows: Array<FigureRow & { key: string }> = await this.dataSource.query(
      `SELECT ${keySql} AS key, ${FIGURES_SQL} FROM usage_ledger ${filter}
        GROUP BY 1 ORDER BY ${order} LIMIT 1000`,
      params,
    );
    const [totals]: FigureRow[] = await this.dataSource.query(
      `SELECT ${FIGURES_SQL} FROM usage_ledger ${filter}`,
      params,
    );
    return {
      group_by: query.groupBy,
      rows: rows.map((r) => ({ key: r.key, ...figures(r) })),
      totals: figures(totals),
    };
  }

  /** Counts one request (in memory; see the class comment). */
  record(subject: string, endpoint: string): void {
    const now = Date.now();
    const day = utcDay(now);
    const key = `${subject}\u0000${endpoint}\u0000${day}`;
    const entry = this.pending.get(key);
    if (entry) {
      entry.requests += 1;
      entry.last = now;
    } else this.pending.set(key, { subject, endpoint, day, requests: 1, last: now });
  }

  /** The usage of `subject` only. */
  async forSubject(subject: string): Promise<UsageReport> {
    await this.flush();
    const endpoints: Array<{ endpoint: string; requests: string; last: Date }> =
      await this.dataSource.query(
        `SELECT endpoint, sum(requests)::text AS requests, max(last_request_at) AS last
           FROM usage_counters WHERE subject = $1 GROUP BY endpoint ORDER BY endpoint`,
        [subject],
      );
    const days: Array<{ day: string; requests: string }> = await this.dataSource.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(requests)::text AS requests
         FROM usage_counters WHERE subject = $1 GROUP BY day ORDER BY day DESC LIMIT 90`,
      [subject],
    );
    const models: Array<FigureRow & { model: string }> = await this.dataSource.query(
      `SELECT model, ${FIGURES_SQL} FROM usage_ledger WHERE subject = $1 GROUP BY model ORDER BY model`,
      [subject],
    );
    const [totals]: FigureRow[] = await this.dataSource.query(
      `SELECT ${FIGURES_SQL} FROM usage_ledger WHERE subject = $1`,
      [subject],
    );
    return {
      object: 'usage',
      subject,
      total_requests: endpoints.reduce((sum, e) => sum + Number(e.requests), 0),
      endpoints: endpoints.map((e) => ({
        endpoint: e.endpoint,
        requests: Number(e.requests),
        last_request_at: new Date(e.last).toISOString(),
      })),
      days: days.map((d) => ({ day: d.day, requests: Number(d.requests) })),
      models: models.map((m) => ({ model: m.model, ...figures(m) })),
      totals: figures(totals),
    };
  }

  /**
   * Adds the buffered counts in one statement per table. On failure they go back into the buffer
   * for the next flush (and a warning is logged): counting never fails a request. Flushes run one
   * at a time, so a shutdown flush waits for a periodic one in progress.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    if (this.spillsPending) await this.replaySpills();
    if (this.pending.size > 0) await this.flushCounts();
    if (this.pendingModels.size > 0) await this.flushModels();
  }

  /**
   * Writes what is still buffered to a spill file (at shutdown, PostgreSQL down). If even that
   * fails, the counts are lost: logged as an error with their number.
   */
  private spillPending(why: string): void {
    if (this.pending.size === 0 && this.pendingModels.size === 0) return;
    const spill: UsageSpill = {
      id: newSpillId(),
      counts: [...this.pending.values()],
      models: [...this.pendingModels.values()],
    };
    const rows = spill.counts.length + spill.models.length;
    try {
      writeSpillFile(this.spillDir, spill.id, SPILL_SUFFIX, JSON.stringify(spill));
      this.pending = new Map();
      this.pendingModels = new Map();
      this.logger.warn(`${why}: ${rows} usage rows spilled to ${this.spillDir}`);
    } catch (error) {
      this.logger.error(
        `${why}: ${rows} usage rows lost, the spill failed (${(error as Error).message})`,
      );
    }
  }

  /**
   * Adds each spill file in one transaction that also records its id, then deletes it: a file
   * whose id is already recorded (a crash between the commit and the deletion) is only deleted,
   * so no count is added twice. A failure leaves the file for the next flush.
   */
  private async replaySpills(): Promise<void> {
    this.spillsPending = false;
    for (const file of spillFilesToReplay(this.spillDir, SPILL_SUFFIX)) {
      const claim = claimSpillFile(this.spillDir, file);
      if (!claim) continue; // another replica sharing DATA_DIR took it
      try {
        const spill = JSON.parse(readFileSync(claim.claimed, 'utf8')) as UsageSpill;
        const added = await this.dataSource.transaction(async (manager) => {
          const fresh: unknown[] = await manager.query(
            `INSERT INTO usage_spill_replays (id) VALUES ($1) ON CONFLICT (id) DO NOTHING
             RETURNING id`,
            [spill.id],
          );
          if (fresh.length === 0) return false;
          if (spill.counts.length) await this.addCounts(manager, spill.counts);
          if (spill.models.length) await this.addModels(manager, spill.models);
          return true;
        });
        unlinkSync(claim.claimed);
        this.logger.log(
          added
            ? `Replayed the usage spilled in ${file} (${spill.counts.length + spill.models.length} rows)`
            : `Usage spilled in ${file} was already replayed: file deleted`,
        );
      } catch (error) {
        claim.release();
        this.spillsPending = true;
        this.logger.warn(`Spilled usage in ${file} not replayed yet: ${(error as Error).message}`);
        return;
      }
    }
  }

  private async flushCounts(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.addCounts(this.dataSource.manager, batch);
    } catch (error) {
      this.logger.warn(`Usage counts not saved yet: ${(error as Error).message}`);
      for (const count of batch) {
        const key = `${count.subject}\u0000${count.endpoint}\u0000${count.day}`;
        const entry = this.pending.get(key);
        if (entry) {
          entry.requests += count.requests;
          entry.last = Math.max(entry.last, count.last);
        } else this.pending.set(key, count);
      }
    }
  }

  private addCounts(manager: EntityManager, batch: PendingCount[]): Promise<unknown> {
    return manager.query(
      `INSERT INTO usage_counters (subject, endpoint, day, requests, last_request_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[], $5::timestamptz[])
         ON CONFLICT (subject, endpoint, day) DO UPDATE SET
           requests = usage_counters.requests + EXCLUDED.requests,
           last_request_at = GREATEST(usage_counters.last_request_at, EXCLUDED.last_request_at)`,
      [
        batch.map((c) => c.subject),
        batch.map((c) => c.endpoint),
        batch.map((c) => c.day),
        batch.map((c) => c.requests),
        batch.map((c) => new Date(c.last)),
      ],
    );
  }

  private async flushModels(): Promise<void> {
    const batch = [...this.pendingModels.values()];
    this.pendingModels = new Map();
    try {
      await this.addModels(this.dataSource.manager, batch);
    } catch (error) {
      this.logger.warn(`Usage ledger rows not saved yet: ${(error as Error).message}`);
      for (const usage of batch) {
        const key = `${usage.subject}\u0000${usage.clientId}\u0000${usage.model}\u0000${usage.day}`;
        const entry = this.pendingModels.get(key);
        if (entry) {
          entry.requests += usage.requests;
          entry.promptTokens += usage.promptTokens;
          entry.completionTokens += usage.completionTokens;
          entry.costUsd += usage.costUsd;
        } else this.pendingModels.set(key, usage);
      }
    }
  }

  private addModels(manager: EntityManager, batch: PendingModelUsage[]): Promise<unknown> {
    return manager.query(
      `INSERT INTO usage_ledger
           (subject, client_id, model, day, requests, prompt_tokens, completion_tokens, cost_usd)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::bigint[],
                              $6::bigint[], $7::bigint[], $8::numeric[])
         ON CONFLICT (subject, client_id, model, day) DO UPDATE SET
           requests = usage_ledger.requests + EXCLUDED.requests,
           prompt_tokens = usage_ledger.prompt_tokens + EXCLUDED.prompt_tokens,
           completion_tokens = usage_ledger.completion_tokens + EXCLUDED.completion_tokens,
           cost_usd = usage_ledger.cost_usd + EXCLUDED.cost_usd`,
      [
        batch.map((u) => u.subject),
        batch.map((u) => u.clientId),
        batch.map((u) => u.model),
        batch.map((u) => u.day),
        batch.map((u) => u.requests),
        batch.map((u) => u.promptTokens),
        batch.map((u) => u.completionTokens),
        batch.map((u) => u.costUsd.toFixed(9)),
      ],
    );
  }
}
