import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { createApp } from '../../src/bootstrap';
import { freePort } from '../../src/database/embedded-postgres';
import { clientsJson } from './factories';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  databaseUrl: string;
  database: string;
  dataDir: string;
  http: () => ReturnType<typeof request>;
  /** Stops the app; drops the database unless another app still uses it. */
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_ADMIN_DATABASE_URL;
  if (!url)
    throw new Error('TEST_ADMIN_DATABASE_URL is unset: run the tests through jest.config.js');
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The URL of one of the run's test databases. */
export function databaseUrlOf(database: string): string {
  return withDatabase(adminUrl(), database);
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, uniquely named database, so runs and test files never see each other's data. */
export async function createDatabase(): Promise<string> {
  const name = `tessera_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Reuse a database (several replicas, or a restart). */
  database?: string;
  dataDir?: string;
}

/**
 * Boots the real application (Fastify, global guards, migrations) on a free port against a
 * real PostgreSQL, as `npm start` would, with test clients from AUTH_CLIENTS_JSON.
 */
export async function startTestApp(options: StartOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createDatabase());
  const databaseUrl = withDatabase(adminUrl(), database);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    PORT: String(port),
    JWT_ISSUER: url,
    AUTH_CLIENTS_JSON: clientsJson(),
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    ...options.env,
  };
  const saved = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let app: NestFastifyApplication | undefined;
  try {
    app = await createApp({ logger: false });
    await app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    // A start that fails (the point of some tests) must not leak its database or connections.
    await app?.close().catch(() => undefined);
    if (!options.database) await dropDatabase(database);
    throw error;
  } finally {
    process.env = saved;
  }
  const started = app;
  return {
    app: started,
    url,
    databaseUrl,
    database,
    dataDir,
    http: () => request(url),
    async close(closeOptions = {}) {
      await started.close();
      if (!closeOptions.keepDatabase && !options.database) await dropDatabase(database);
      if (!options.dataDir && !closeOptions.keepDatabase)
        rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Replicas {
  apps: TestApp[];
  database: string;
  /** Closes every replica, then drops their shared database. */
  close(): Promise<void>;
}

/**
 * N replicas of the app on one database, as several processes behind a load balancer would run
 * (each its own Fastify server, key ring, synced views and LISTEN connection).
 */
export async function startReplicas(count: number, options: StartOptions = {}): Promise<Replicas> {
  const first = await startTestApp(options);
  const apps = [first];
  try {
    for (let i = 1; i < count; i++)
      apps.push(
        await startTestApp({ ...options, database: first.database, dataDir: first.dataDir }),
      );
  } catch (error) {
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    throw error;
  }
  return {
    apps,
    database: first.database,
    async close() {
      for (const app of [...apps].reverse()) await app.close();
    },
  };
}
