import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module';
import { createDatabase, databaseUrlOf, dropDatabase } from '../support/app';
import { clientsJson } from '../support/factories';

export interface Services {
  /** The application context: every service, no HTTP server. */
  context: INestApplicationContext;
  database: string;
  databaseUrl: string;
  close(): Promise<void>;
}

/**
 * The medium tier's harness: Tessera's services against a real PostgreSQL (a fresh database,
 * migrated as at start), without HTTP. Tests call services directly and each creates its own
 * clients, users and tokens rather than truncating tables.
 */
export async function startServices(
  options: { database?: string; env?: Record<string, string> } = {},
): Promise<Services> {
  const database = options.database ?? (await createDatabase());
  const databaseUrl = databaseUrlOf(database);
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-medium-'));
  const saved = { ...process.env };
  Object.assign(process.env, {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JWT_ISSUER: 'http://127.0.0.1:3000',
    AUTH_CLIENTS_JSON: clientsJson(),
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    ...options.env,
  });
  let context: INestApplicationContext;
  try {
    context = await NestFactory.createApplicationContext(AppModule, { logger: false });
  } finally {
    process.env = saved;
  }
  return {
    context,
    database,
    databaseUrl,
    async close() {
      await context.close();
      if (!options.database) await dropDatabase(database);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
