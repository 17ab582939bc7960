import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs `text` on the DataSource's pool as the named prepared statement `name`: each connection
 * parses and plans it once, then only binds and executes it. For statements run many times a
 * second (the audit trail's append); `name` must be unique to `text`. Errors are node-postgres'
 * own (`code` is the SQLSTATE); like the ORM's query errors, their text is never logged with the
 * parameters.
 */
export async function preparedQuery<Row>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<Row[]> {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  const result = await pool.query({ name, text, values });
  return result.rows as Row[];
}
