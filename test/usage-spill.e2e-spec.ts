import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/database/embedded-postgres';
import { createDatabase, databaseUrlOf, dropDatabase } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { eventually } from './support/lifecycle';
import { RunningServer, startServerProcess } from './support/process';

/**
 * A SIGTERM while PostgreSQL is unreachable: the usage counts of the requests answered 200 cannot
 * be written, so they are spilled to DATA_DIR/usage-spill and added at the next start — once, even
 * when the file outlives its replay (a process stopped between the commit and the deletion).
 * Before, they were logged as "not saved yet" and lost with the process.
 */
describe('usage counts across a SIGTERM during a PostgreSQL outage (real server processes)', () => {
  let database: string;
  let dataDir: string;
  let admin: Client;
  let server: RunningServer | undefined;

  const closeDatabase = async (closed: boolean) => {
    await admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS ${!closed}`);
    if (closed)
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
        [database],
      );
  };

  const start = async () =>
    (server = await startServerProcess(await freePort(), {
      DATABASE_URL: databaseUrlOf(database),
      DATA_DIR: dataDir,
      JWT_ISSUER: 'http://tessera.test',
      AUTH_CLIENTS_JSON: clientsJson(),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      LOG_LEVEL: 'info',
    }));

  const spillDir = () => join(dataDir, 'usage-spill');
  const spillFiles = () => {
    try {
      return readdirSync(spillDir());
    } catch {
      return [];
    }
  };

  async function counted(subject: string): Promise<number> {
    const db = new Client({ connectionString: databaseUrlOf(database) });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: string | null }>(
        'SELECT sum(requests)::text AS n FROM usage_counters WHERE subject = $1',
        [subject],
      );
      return Number(rows[0].n ?? 0);
    } finally {
      await db.end();
    }
  }

  beforeAll(async () => {
    database = await createDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-usage-spill-'));
    admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await server?.stop();
    await closeDatabase(false).catch(() => undefined);
    await admin?.end();
    await dropDatabase(database);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('spills what a shutdown cannot write, replays it at the next start, and only once', async () => {
    const first = await start();
    const token = await tokenFor(first.url, CLIENTS.operator);
    const subject = CLIENTS.operator.id;
    await closeDatabase(true);
    let answered = 0;
    for (let i = 0; i < 25; i++) {
      const response = await fetch(`${first.url}/v1/infer`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x' }),
      });
      if (response.status === 200) answered++;
    }
    expect(answered).toBe(25); // verification and counting need no database
    await first.stop();
    expect(first.output()).toContain('1 usage rows spilled to');
    const [file] = spillFiles();
    expect(spillFiles()).toEqual([expect.stringMatching(/\.json$/)]);
    const spilled = readFileSync(join(spillDir(), file), 'utf8');

    await closeDatabase(false);
    const second = await start();
    await eventually(async () => (await counted(subject)) === 25, {
      attempts: 100,
      intervalMs: 100,
    });
    expect(spillFiles()).toEqual([]);
    await second.stop();
    expect(second.output()).toContain(`Replayed the usage spilled in ${file} (1 rows)`);

    // The same file again, as a process killed after the replay's commit would have left it.
    writeFileSync(join(spillDir(), file), spilled);
    const third = await start();
    await eventually(async () => spillFiles().length === 0, { attempts: 100, intervalMs: 100 });
    await third.stop();
    expect(third.output()).toContain(`Usage spilled in ${file} was already replayed`);
    expect(await counted(subject)).toBe(25);
  });
});
