import type { DataSource, Migration } from 'typeorm';

const MIGRATION_LOCK = 'tessera:migrations';

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so replicas starting together
 * do not race to create the same tables.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    try {
      return await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}
