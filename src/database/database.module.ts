import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options';
import { DatabaseLocator } from './database-locator';
import { runMigrationsLocked } from './migrate';
import { PgListener } from './pg-listener';
import { SyncedViews } from './synced-view';

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
        ...buildDataSourceOptions(await locator.url()),
        // A couple of quick retries, then a clear error: never a silent hang.
        retryAttempts: 2,
        retryDelay: 1000,
      }),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('DataSource options missing');
        const dataSource = await new DataSource(options).initialize();
        await runMigrationsLocked(dataSource);
        return dataSource;
      },
    }),
  ],
  providers: [PgListener, SyncedViews],
  exports: [PgListener, SyncedViews],
})
export class DatabaseModule {
  constructor(locator: DatabaseLocator, dataSource: DataSource) {
    locator.attach(dataSource);
  }
}
