import { Global, Logger, Module, OnModuleInit } from '@nestjs/common';
import cluster from 'node:cluster';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';
import { DatabaseLocator } from './database-locator';
import { runMigrationsLocked } from './migrate';
import { PgListener } from './pg-listener';
import { SyncedViews } from './synced-view';
import {
  describeStartupError,
  isRefusedByDatabase,
  isUnreachable,
  StartupError,
} from '../common/startup-error';

const CONNECT_ATTEMPTS = 3;
const CONNECT_RETRY_MS = 1000;

/**
 * The first connection of a start: an unreachable PostgreSQL (refused, unknown host, starting
 * up) is tried again twice, a second apart, with a one-line warning each time, then start-up
 * stops with one line naming the address. A database that does not exist or credentials
 * PostgreSQL refuses stop it at once, with one line saying which. Never a silent hang, never a
 * stack trace for what is an expected condition; any other error is thrown as it is.
 */
async function connectDuringStart<T>(connect: () => Promise<T>): Promise<T> {
  const logger = new Logger('Database');
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (isRefusedByDatabase(error)) throw new StartupError(describeStartupError(error), code);
      if (!isUnreachable(error)) throw error;
      const line = describeStartupError(error);
      if (attempt >= CONNECT_ATTEMPTS) throw new StartupError(line, code);
      logger.warn(
        `${line}; retrying in ${CONNECT_RETRY_MS / 1000} s (${attempt}/${CONNECT_ATTEMPTS - 1})`,
      );
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  }
}

@Global()
@Module({ providers: [DatabaseLocator], exports: [DatabaseLocator] })
class DatabaseLocatorModule {}

/**
 * PostgreSQL through TypeORM. Migrations run at start (under an advisory lock) before any
 * module touches a table; `DATABASE_URL` unset means an embedded PostgreSQL under `DATA_DIR`.
 */
@Global()
@Module({
  imports: [
    DatabaseLocatorModule,
    TypeOrmModule.forRootAsync({
      inject: [DatabaseLocator],
      useFactory: async (locator: DatabaseLocator) => ({
        ...buildDataSourceOptions(
          await locator.url(),
          'request',
          locator.queryTimeoutMs,
          locator.poolSize,
        ),
        // Retries are ours (connectDuringStart): Nest's log each failure with a stack trace.
        toRetry: () => false,
      }),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('DataSource options missing');
        // Migrations on their own short-lived connection, without the request timeouts (they
        // may wait for another replica's advisory lock, or run long).
        const url = (options as { url: string }).url;
        const migrations = await connectDuringStart(() =>
          new DataSource(buildDataSourceOptions(url, 'maintenance')).initialize(),
        );
        try {
          await runMigrationsLocked(migrations);
        } finally {
          await migrations.destroy();
        }
        return new DataSource(options).initialize();
      },
    }),
  ],
  providers: [PgListener, SyncedViews],
  exports: [PgListener, SyncedViews],
})
export class DatabaseModule implements OnModuleInit {
  constructor(
    private readonly locator: DatabaseLocator,
    private readonly dataSource: DataSource,
  ) {
    locator.attach(dataSource);
  }

  /** PostgreSQL's `max_connections` against what every worker's pool may open (a warning). */
  async onModuleInit(): Promise<void> {
    const [{ max_connections }] = (await this.dataSource.query('SHOW max_connections')) as Array<{
      max_connections: string;
    }>;
    this.locator.warnIfTooFewConnections(
      Number(max_connections),
      this.locator.workers,
      (cluster.worker?.id ?? 1) === 1,
    );
  }
}
