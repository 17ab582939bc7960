import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { AuditService } from '../src/audit/audit.service';
import { startTestApp, TestApp } from './support/app';

/**
 * A PostgreSQL outage as the server sees it (the database closed to connections, its sessions
 * ended): events nobody awaits — a refused request's `auth.failed` — wait in the bounded buffer
 * and are written when the database is back. They are not spilled to DATA_DIR at the first
 * refused write (only a full buffer, or an admin change awaiting its event, spills), so a spill
 * directory that cannot be written loses nothing while the buffer has room.
 */
describe('audit trail during a PostgreSQL outage', () => {
  let sut: TestApp;
  let admin: Client;

  const closeDatabase = async (closed: boolean) => {
    await admin.query(`ALTER DATABASE "${sut.database}" ALLOW_CONNECTIONS ${!closed}`);
    if (closed)
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
        [sut.database],
      );
  };

  beforeAll(async () => {
    sut = await startTestApp();
    admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await closeDatabase(false).catch(() => undefined);
    await admin?.end();
    await sut?.close();
  });

  it('buffers the events of refused requests in memory, spills nothing, and writes them all after', async () => {
    const audit = sut.app.get(AuditService);
    await audit.flush();
    await closeDatabase(true);
    for (let i = 0; i < 10; i++) {
      const answer = await sut
        .http()
        .post('/v1/infer')
        .set('X-Request-Id', `outage-${i}`)
        .send({ prompt: 'x' });
      expect(answer.status).toBe(401); // verification needs no database
    }
    await new Promise((r) => setTimeout(r, 1500)); // the first write and its retries refused
    expect(audit.bufferDepth).toBe(10);
    const spillDir = join(sut.dataDir, 'audit-spill');
    expect(existsSync(spillDir) ? readdirSync(spillDir) : []).toEqual([]);

    await closeDatabase(false);
    await audit.flush();
    const db = new Client({ connectionString: sut.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        "SELECT request_id FROM audit_events WHERE request_id LIKE 'outage-%' ORDER BY id",
      );
      expect(rows.map((r: { request_id: string }) => r.request_id)).toEqual(
        Array.from({ length: 10 }, (_, i) => `outage-${i}`),
      );
    } finally {
      await db.end();
    }
    const verified = await audit.verify();
    expect(verified.intact).toBe(true);
  });
});
