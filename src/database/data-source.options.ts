import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/**
 * The single source of DataSource options, used by Nest (`TypeOrmModule.forRootAsync`) and by the
 * TypeORM CLI (`ormconfig.ts`). Schema changes go through migrations only: never `synchronize`.
 */
export function buildDataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'tessera_migrations',
    migrationsTransactionMode: 'all',
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    extra: {
      // Fail fast with a clear error instead of hanging when PostgreSQL is unreachable.
      connectionTimeoutMillis: 5000,
      max: 10,
    },
  };
}
