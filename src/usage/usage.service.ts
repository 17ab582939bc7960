import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface UsageReport {
  object: 'usage';
  subject: string;
  total_requests: number;
  endpoints: Array<{ endpoint: string; requests: number; last_request_at: string }>;
  days: Array<{ day: string; requests: number }>;
}

/**
 * Request counts per principal (`Principal.subject`), endpoint and UTC day, in PostgreSQL so
 * every replica adds to the same rows. Reads are always for one subject: there is no method that
 * returns another principal's data, so a handler cannot leak it by mistake.
 */
@Injectable()
export class UsageService {
  private readonly logger = new Logger('Usage');

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Adds one request. A failure is logged and swallowed: counting must never fail the request
   * it counts (the count is then lost; usage is informational, not billing-grade).
   */
  async record(subject: string, endpoint: string): Promise<void> {
    try {
      await this.dataSource.query(
        `INSERT INTO usage_counters (subject, endpoint, day, requests, last_request_at)
         VALUES ($1, $2, (now() AT TIME ZONE 'UTC')::date, 1, now())
         ON CONFLICT (subject, endpoint, day)
         DO UPDATE SET requests = usage_counters.requests + 1, last_request_at = now()`,
        [subject, endpoint],
      );
    } catch (error) {
      this.logger.warn(`Usage not recorded: ${(error as Error).message}`);
    }
  }

  /** The usage of `subject` only. */
  async forSubject(subject: string): Promise<UsageReport> {
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
}
