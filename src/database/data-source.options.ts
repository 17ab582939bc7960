import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { SafeTypeOrmLogger } from './safe-typeorm-logger';

/**
 * How long the app waits on PostgreSQL before answering 503 instead (a killed, paused or
 * overloaded database): `DATABASE_QUERY_TIMEOUT_MS`, 1000 by default. A request's queries are
 * short; a paused server never answers, so the client-side `query_timeout` is what bounds the
 * wait, and `statement_timeout` makes the server give up on the same query too. Connecting is
 * bounded the same way. A transaction left idle (a stuck handler) cannot hold its row locks for
 * more than `idle_in_transaction_session_timeout`.
 */
export function requestTimeouts(queryTimeoutMs = 1000) {
  return {
    connectionTimeoutMillis: queryTimeoutMs,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(5000, queryTimeoutMs * 5),
  };
}

/** Migrations and the CLI's maintenance commands may run long (and wait for the advisory lock). */
export const MAINTENANCE_TIMEOUTS = {
  connectionTimeoutMillis: 5000,
  idle_in_transaction_session_timeout: 60_000,
} as const;

/**
 * The single source of DataSource options, used by Nest (`TypeOrmModule.forRootAsync`) and by the
 * TypeORM CLI (`ormconfig.ts`). Schema changes go through migrations only: never `synchronize`.
 * `purpose`: `request` (the server: short timeouts, see {@link requestTimeouts}) or
 * `maintenance` (migrations: no statement timeout).
 */
export function buildDataSourceOptions(
  url: string,
  purpose: 'request' | 'maintenance' = 'request',
  queryTimeoutMs?: number,
  poolSize = 10,
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
      ...(purpose === 'request' ? requestTimeouts(queryTimeoutMs) : MAINTENANCE_TIMEOUTS),
      max: poolSize,
    },
  };
}
