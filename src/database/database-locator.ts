import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import { databaseConfig } from '../config/configuration';
import {
  connectionsNeeded,
  EmbeddedDatabase,
  embeddedMaxConnections,
  startEmbeddedPostgres,
} from './embedded-postgres';

/**
 * Knows where the database is: `DATABASE_URL`, or an embedded PostgreSQL under `DATA_DIR`
 * (started here, or the one already running there, e.g. the server's when a CLI command runs
 * beside it). Stops it on shutdown, after the DataSource has closed its connections, only when
 * this process started it.
 */
@Injectable()
export class DatabaseLocator implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private embedded?: EmbeddedDatabase;
  private dataSource?: DataSource;
  private resolved?: Promise<string>;

  constructor(
    @Inject(databaseConfig.KEY) private readonly config: ConfigType<typeof databaseConfig>,
  ) {}

  /** The connection URL; starts the embedded PostgreSQL the first time when `DATABASE_URL` is unset. */
  url(): Promise<string> {
    this.resolved ??= this.resolve();
    return this.resolved;
  }

  /** DATABASE_QUERY_TIMEOUT_MS: the request pool's connect/query/statement timeout. */
  get queryTimeoutMs(): number {
    return this.config.queryTimeoutMs;
  }

  /**
   * Warns once (the first worker in cluster mode) when PostgreSQL's `max_connections` is below
   * what every process's pool may open ({@link connectionsNeeded}): under load the last
   * connections would be refused ("too many clients") and requests answered 503.
   */
  warnIfTooFewConnections(maxConnections: number, workers: number, firstProcess: boolean): void {
    const needed = connectionsNeeded(workers, this.config.poolSize);
    if (!firstProcess || needed <= maxConnections) return;
    this.logger.warn(
      `PostgreSQL allows ${maxConnections} connections; ${workers} process(es) with ` +
        `DATABASE_POOL_SIZE=${this.config.poolSize} may open ${needed} (with the CLI’s): raise ` +
        `max_connections, or lower DATABASE_POOL_SIZE or WORKERS`,
    );
  }

  /** WORKERS: the processes that each open such a pool. */
  get workers(): number {
    return this.config.workers;
  }

  /** DATABASE_POOL_SIZE: the request pool's most connections. */
  get poolSize(): number {
    return this.config.poolSize;
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  attach(dataSource: DataSource): void {
    this.dataSource = dataSource;
  }

  /**
   * The server (not a one-shot CLI command) keeps an embedded PostgreSQL up: restarted with
   * back-off when it dies, so service returns within seconds of a crash or a kill.
   */
  superviseEmbedded(): void {
    this.embedded?.supervise();
  }

  private async resolve(): Promise<string> {
    if (this.config.url) return this.config.url;
    this.logger.log(
      `DATABASE_URL is unset: starting embedded PostgreSQL in ${this.config.dataDir}/pg`,
    );
    this.embedded = await startEmbeddedPostgres(
      this.config.dataDir,
      'tessera',
      (line) => this.logger.debug(line),
      (line) => this.logger.log(line),
      embeddedMaxConnections(1, this.config.poolSize),
    );
    this.logger.log(`Embedded PostgreSQL is running on ${new URL(this.embedded.url).host}`);
    return this.embedded.url;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    if (this.dataSource?.isInitialized) await this.dataSource.destroy();
    const owned = this.embedded.owned;
    await this.embedded.stop();
    this.embedded = undefined;
    // A PostgreSQL this process did not start (a running server's) is left running.
    if (owned) this.logger.log('Embedded PostgreSQL stopped');
  }
}
