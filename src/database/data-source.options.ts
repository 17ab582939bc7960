import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { SafeTypeOrmLogger } from './safe-typeorm-logger';

/**
 * How long the app waits on PostgreSQL before answering 503 instead (a killed, paused or
 * overloaded database). A request's queries are short; a paused server never answers, so the
 * client-side `query_timeout` is what bounds the wait, and `statement_timeout` makes the server
 * give up on the same query too. A transaction left idle (a stuck handler) cannot hold its row
 * locks for more than `idle_in_transaction_session_timeout`.
 */
export const REQUEST_TIMEOUTS = {
  connectionTimeoutMillis: 1000,
  query_timeout: 1000,
  statement_timeout: 1000,
  idle_in_transaction_session_timeout: 5000,
} as const;

/** Migrations and the CLI's maintenance commands may run long (and wait for the advisory lock). */
export const MAINTENANCE_TIMEOUTS = {
  connectionTimeoutMillis: 5000,
  idle_in_transaction_session_timeout: 60_000,
} as const;

/**
 * The single source of DataSource options, used by Nest (`TypeOrmModule.forRootAsync`) and by the
 * TypeORM CLI (`ormconfig.ts`). Schema changes go through migrations only: never `synchronize`.
 * `purpose`: `request` (the server: short timeouts, see {@link REQUEST_TIMEOUTS}) or
 * `maintenance` (migrations: no statement timeout).
 */
export function buildDataSourceOptions(
  url: string,
  purpose: 'request' | 'maintenance' = 'request',
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'tessera_migrations',
    migrationsTransactionMode: 'all',
    synchronize: false,
    migrationsRun: false,
    // Errors only, and without their parameters (they carry hashes and digests).
    logging: ['error', 'warn', 'migration'],
    logger: new SafeTypeOrmLogger(),
    extra: {
      ...(purpose === 'request' ? REQUEST_TIMEOUTS : MAINTENANCE_TIMEOUTS),
      max: 10,
    },
  };
}
