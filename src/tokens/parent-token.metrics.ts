import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { redactDatabaseMessage } from '../common/database-errors';
import { MetricsService } from '../metrics/metrics.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';

/** At most this many parents are listed per scrape (one series each); the total is exact. */
const MAX_PARENT_SERIES = 10_000;

/**
 * jwt-auth-service's four Prometheus metrics, under its own names and labels, so its dashboards
 * and alerts keep working against Tessera:
 * - `jwt_parent_token_expiry_timestamp_seconds{user_id,network,parent_jti}` and
 * - `jwt_parent_token_issued_timestamp_seconds{user_id,network,parent_jti}`: one series per live
 *   parent token (not revoked, not expired), at most 10,000;
 * - `jwt_parent_tokens_active_total`: live parent tokens;
 * - `jwt_revoked_tokens_total`: revoked token ids held in the revocation index (a gauge, as there).
 * Parents are read from PostgreSQL at scrape time (one query per scrape, never per request), so
 * every replica reports the same, cluster-wide, values.
 */
@Injectable()
export class ParentTokenMetrics {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    metrics: MetricsService,
    revocation: RevocationIndexService,
  ) {
    const registers = [metrics.registry];
    const labelNames = ['user_id', 'network', 'parent_jti'] as const;
    const logger = new Logger('Metrics');
    // One query per scrape, shared by the three gauges: prom-client collects them at once, so
    // each awaits the same read (before, two read what the third had filled in the scrape before).
    let reading: Promise<ParentRow[] | undefined> | undefined;
    let failing = false;
    const read = (): Promise<ParentRow[] | undefined> =>
      (reading ??= readParents(dataSource)
        .then(
          (rows) => {
            if (failing) logger.log('Parent-token metrics readable again');
            failing = false;
            return rows;
          },
          (error: Error) => {
            // PostgreSQL unavailable: the scrape still answers (the audit buffer's and the
            // outage's own metrics matter most then); these keep their last values.
            if (!failing)
              logger.warn(`Parent-token metrics not read: ${redactDatabaseMessage(error.message)}`);
            failing = true;
            return undefined;
          },
        )
        .finally(() => (reading = undefined)));
    // One series per live parent, its issue or expiry time (cluster mode: every worker reads the
    // same rows, so one worker's value stands for all).
    const perParent = (name: string, help: string, field: 'iat' | 'exp') =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        aggregator: 'first',
        async collect() {
          const rows = await read();
          if (!rows) return;
          this.reset();
          for (const row of rows) this.set(labelsOf(row), Math.floor(Number(row[field])));
        },
      });
    perParent(
      'jwt_parent_token_issued_timestamp_seconds',
      'Unix timestamp when parent token was issued',
      'iat',
    );
    new Gauge({
      name: 'jwt_parent_tokens_active_total',
      help: 'Total number of active parent tokens',
      registers,
      aggregator: 'first',
      async collect() {
        const rows = await read();
        if (rows) this.set(rows.length ? Number(rows[0].total) : 0);
      },
    });
    perParent(
      'jwt_parent_token_expiry_timestamp_seconds',
      'Unix timestamp when parent token expires',
      'exp',
    );
    new Gauge({
      name: 'jwt_revoked_tokens_total',
      help: 'Total number of revoked tokens',
      registers,
      aggregator: 'max',
      collect() {
        this.set(revocation.indexStats.jtis);
      },
    });
  }
}

interface ParentRow {
  jti: string;
  subject: string;
  network: string | null;
  exp: string;
  iat: string;
  total: string;
}

/** The live parent tokens (at most {@link MAX_PARENT_SERIES}), each row with the exact total. */
async function readParents(dataSource: DataSource): Promise<ParentRow[]> {
  return (await dataSource.query(
    `SELECT jti::text, subject, claims->>'network' AS network,
            extract(epoch FROM expires_at) AS exp, extract(epoch FROM created_at) AS iat,
            count(*) OVER () AS total
     FROM parent_tokens WHERE revoked_at IS NULL AND expires_at > now()
     ORDER BY created_at DESC LIMIT ${MAX_PARENT_SERIES}`,
  )) as ParentRow[];
}

function labelsOf(row: ParentRow) {
  return { user_id: row.subject, network: row.network ?? '', parent_jti: row.jti };
}
