import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import { databaseConfig } from '../config/configuration';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';

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
