import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';

/**
 * One PostgreSQL server for the whole run: the machine's (DATABASE_URL) or, on a fresh machine,
 * an embedded one under .data/test-pg. Each test app then creates and drops its own database.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_ADMIN_DATABASE_URL) return;
  if (process.env.DATABASE_URL) {
    process.env.TEST_ADMIN_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const embedded = await startEmbeddedPostgres(
    join(__dirname, '..', '..', '.data', 'test'),
    'postgres',
  );
  process.env.TEST_ADMIN_DATABASE_URL = embedded.url;
  (globalThis as { __TESSERA_EMBEDDED__?: { stop(): Promise<void> } }).__TESSERA_EMBEDDED__ =
    embedded;
}
