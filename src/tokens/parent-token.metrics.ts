import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
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
    // Collected in registration order: the first gauge reads the parents and fills all three.
    const issued = new Gauge({
      name: 'jwt_parent_token_issued_timestamp_seconds',
      help: 'Unix timestamp when parent token was issued',
      labelNames,
      registers: [],
      aggregator: 'first', // cluster mode: every worker reads the same rows
    });
    const active = new Gauge({
      name: 'jwt_parent_tokens_active_total',
      help: 'Total number of active parent tokens',
      registers: [],
      aggregator: 'first',
    });
    new Gauge({
      name: 'jwt_parent_token_expiry_timestamp_seconds',
      help: 'Unix timestamp when parent token expires',
      labelNames,
      registers,
      aggregator: 'first',
      async collect() {
        const rows = (await dataSource.query(
          `SELECT jti::text, subject, claims->>'network' AS network,
                  extract(epoch FROM expires_at) AS exp, extract(epoch FROM created_at) AS iat,
                  count(*) OVER () AS total
           FROM parent_tokens WHERE revoked_at IS NULL AND expires_at > now()
           ORDER BY created_at DESC LIMIT ${MAX_PARENT_SERIES}`,
        )) as Array<{
          jti: string;
          subject: string;
          network: string | null;
          exp: string;
          iat: string;
          total: string;
        }>;
        this.reset();
        issued.reset();
        for (const row of rows) {
          const labels = { user_id: row.subject, network: row.network ?? '', parent_jti: row.jti };
          this.set(labels, Math.floor(Number(row.exp)));
          issued.set(labels, Math.floor(Number(row.iat)));
        }
        active.set(rows.length ? Number(rows[0].total) : 0);
      },
    });
    metrics.registry.registerMetric(issued);
    metrics.registry.registerMetric(active);
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
