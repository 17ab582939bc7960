import type { EntityManager } from 'typeorm';
import { ServiceUnavailableError } from '../common/errors';

/**
 * Takes a transaction-scoped PostgreSQL advisory lock (released at commit or rollback).
 *
 * Waiting in one `pg_advisory_xact_lock` statement would run into the request pool's timeouts
 * (`DATABASE_QUERY_TIMEOUT_MS`, 1 s) whenever a few rotations or replica start-ups queue on the
 * same lock; polling `pg_try_advisory_xact_lock` keeps every statement short (and the
 * transaction never idle), for up to `maxWaitMs`, then answers 503.
 */
export async function advisoryXactLock(
  manager: EntityManager,
  name: string,
  maxWaitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    const [{ locked }] = (await manager.query(
      'SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked',
      [name],
    )) as Array<{ locked: boolean }>;
    if (locked) return;
    if (Date.now() > deadline)
      throw new ServiceUnavailableError(`Busy (waited for lock "${name}"); retry shortly`);
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
  }
}
