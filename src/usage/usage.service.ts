import { Injectable, Logger, BeforeApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { every, PeriodicJob } from '../common/periodic';

export interface UsageReport {
  object: 'usage';
  subject: string;
  total_requests: number;
  endpoints: Array<{ endpoint: string; requests: number; last_request_at: string }>;
  days: Array<{ day: string; requests: number }>;
}

interface PendingCount {
  subject: string;
  endpoint: string;
  day: string;
  requests: number;
  last: Date;
}

/** How often counts buffered in memory are added to PostgreSQL. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * Request counts per principal (`Principal.subject`), endpoint and UTC day, in PostgreSQL so all
 * replicas add to the same rows. Requests are counted in memory and flushed once a second in one
 * statement: no database write on the request path, and no row-lock queue when one principal
 * sends many requests at once. A replica's own counts are flushed before it answers a read, so a
 * caller sees its requests to that replica at once and those to other replicas within a second.
 * A crash loses at most a second of counts: usage is informational, not billing-grade.
 *
 * Reads are always for one subject: there is no method returning another principal's data, so a
 * handler cannot leak it by mistake.
 */
@Injectable()
export class UsageService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Usage');
  private pending = new Map<string, PendingCount>();
  private job?: PeriodicJob;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.job = every(
      FLUSH_INTERVAL_MS,
      () => this.flush(),
      (e) => this.logger.warn(`Usage flush failed: ${e.message}`),
    );
  }

  /** Before the database closes (onApplicationShutdown), after the HTTP server drained. */
  async beforeApplicationShutdown(): Promise<void> {
    this.job?.stop();
    await this.flush();
  }

  /** Counts one request (in memory; see the class comment). */
  record(subject: string, endpoint: string): void {
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
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
    };
  }

  /**
   * Adds the buffered counts in one statement. On failure they go back into the buffer for the
   * next flush (and a warning is logged): counting never fails a request.
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.dataSource.query(
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
          batch.map((c) => c.last),
        ],
      );
    } catch (error) {
      this.logger.warn(`Usage counts not saved yet: ${(error as Error).message}`);
      for (const count of batch) {
        const key = `${count.subject}\u0000${count.endpoint}\u0000${count.day}`;
        const entry = this.pending.get(key);
        if (entry) entry.requests += count.requests;
        else this.pending.set(key, count);
      }
    }
  }
}
