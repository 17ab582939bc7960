/**
 * Revocation benchmark (`npm run bench -- revocation`), against the PostgreSQL at DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres), with real app instances in this process:
 * 1. start-up load of 1,000,000 revoked jtis and the memory the index takes;
 * 2. verification throughput (signature + claims + revocation check) with 0 and with 1,000,000
 *    revoked jtis, interleaved rounds, medians compared side by side;
 * 3. propagation between two replicas (separate processes) on one database: from `POST /revoke`
 *    answering 200 on one to `POST /authorize` answering 401 on the other (p50/p99).
 * Throughput is measured in-process on the verify path itself (one core), not over HTTP.
 */
import { writeBenchPolicy } from './support/bench-policy';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { verify } from 'jsonwebtoken';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from 'pg';
import type { AccessTokenClaims } from '../src/access/access-token';
import { PrincipalFactory } from '../src/auth/principal.factory';
import { TokenKeyResolver } from '../src/keys/token-key-resolver';
import { TokenService } from '../src/oauth/token.service';
import { createApp } from '../src/bootstrap';
import { freePort } from '../src/database/embedded-postgres';
import { RevocationIndex } from '../src/revocation/revocation-index';
import { RevocationIndexService } from '../src/revocation/revocation-index.service';

const ROWS = Number(process.env.BENCH_REVOKED_ROWS ?? 1_000_000);
const PROPAGATION_SAMPLES = Number(process.env.BENCH_PROPAGATION_SAMPLES ?? 300);
const ROUNDS = 20;
const ROUND_MS = 400;
const ISSUER = 'http://tessera.bench';

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Instance {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function createDatabase(): Promise<string> {
  const name = `tessera_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return name;
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function start(database: string): Promise<Instance> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const saved = { ...process.env };
  Object.assign(process.env, {
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl(database),
    DATA_DIR: dataDir,
    AUTH_POLICY_FILE: writeBenchPolicy(dataDir),
    PORT: String(port),
    JWT_ISSUER: ISSUER,
    AUTH_CLIENTS_JSON: JSON.stringify({
      bench: { secret: randomBytes(24).toString('hex'), roles: ['admin'] },
    }),
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
  });
  let app: NestFastifyApplication;
  try {
    app = await createApp({ logger: false });
    await app.listen({ port, host: '127.0.0.1' });
  } finally {
    process.env = saved;
  }
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function gc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as (() => void) | undefined;
}

function mintMany(instance: Instance, count: number): string[] {
  const tokens = instance.app.get(TokenService);
  return Array.from(
    { length: count },
    (_, i) => tokens.mint({ subject: `bench-${i}`, clientId: 'bench', roles: ['operator'] }).token,
  );
}

/** The guard's verify path without HTTP: key by kid, signature and claims, revocation. */
async function verifyRound(instance: Instance, tokens: string[], ms: number): Promise<number> {
  const resolver = instance.app.get(TokenKeyResolver);
  const principals = instance.app.get(PrincipalFactory);
  let done = 0;
  const end = performance.now() + ms;
  const began = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) {
      const token = tokens[done % tokens.length];
      const { key, kid } = await resolver.resolve(token);
      const claims = verify(token, key, resolver.verifyOptions) as AccessTokenClaims;
      principals.fromAccessToken(claims, kid);
      done++;
    }
  }
  return done / ((performance.now() - began) / 1000);
}

/** The revocation check alone (what 1M entries could slow down), in lookups per second. */
function checkRound(
  service: RevocationIndexService,
  claims: AccessTokenClaims[],
  ms: number,
): number {
  let done = 0;
  const end = performance.now() + ms;
  const began = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) {
      if (service.isRevoked(claims[done % claims.length])) throw new Error('unexpected');
      done++;
    }
  }
  return done / ((performance.now() - began) / 1000);
}

const BENCH_CLIENTS = {
  admin: { id: 'bench-admin', secret: randomBytes(24).toString('hex'), roles: ['admin'] },
  operator: { id: 'bench-operator', secret: randomBytes(24).toString('hex'), roles: ['operator'] },
};

/**
 * A replica as deployed: its own process (`node dist/src/main.js`), so nothing is shared with
 * the other replica but the database.
 */
async function spawnReplica(database: string): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const child = spawn(process.execPath, [join(__dirname, '..', 'src', 'main.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl(database),
      DATA_DIR: dataDir,
      AUTH_POLICY_FILE: writeBenchPolicy(dataDir),
      PORT: String(port),
      JWT_ISSUER: ISSUER,
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      AUTH_CLIENTS_JSON: JSON.stringify(
        Object.fromEntries(
          Object.values(BENCH_CLIENTS).map((c) => [c.id, { secret: c.secret, roles: c.roles }]),
        ),
      ),
    },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`${url}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (ready === 200) break;
    if (attempt > 300 || child.exitCode !== null) throw new Error('replica did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function clientToken(url: string, client: { id: string; secret: string }) {
  const response = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.id,
      client_secret: client.secret,
    }),
  });
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

async function propagation(from: string, to: string): Promise<number[]> {
  const adminToken = await clientToken(from, BENCH_CLIENTS.admin);
  const samples: number[] = [];
  for (let i = 0; i < PROPAGATION_SAMPLES; i++) {
    const victim = await clientToken(from, BENCH_CLIENTS.operator);
    const authorize = () =>
      fetch(`${to}/authorize`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${victim}` },
      }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    const before = await authorize();
    if (before !== 200) throw new Error(`victim token answered ${before} before its revocation`);
    const revoke = await fetch(`${from}/revoke`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: victim }),
    });
    await revoke.arrayBuffer();
    if (revoke.status !== 200) throw new Error(`revoke answered ${revoke.status}`);
    const answered = performance.now();
    for (let attempt = 0; ; attempt++) {
      if ((await authorize()) === 401) break;
      if (attempt > 5000) throw new Error('revocation never reached the other replica');
    }
    samples.push(performance.now() - answered);
  }
  return samples.sort((a, b) => a - b);
}

/** Heap + array buffers taken by a standalone index of `rows` random jtis. */
function standaloneIndexMemory(rows: number): { measured: number; reported: number } {
  const collect = gc();
  collect?.();
  const before = process.memoryUsage();
  const index = new RevocationIndex(rows);
  const exp = Math.floor(Date.now() / 1000) + 86400;
  for (let i = 0; i < rows; i++) index.apply({ kind: 'jti', value: randomUUID(), expiresAt: exp });
  collect?.();
  const after = process.memoryUsage();
  const measured = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  const reported = index.bytes;
  if (!index.hasJti(randomUUID())) return { measured, reported };
  return { measured, reported };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

export async function runRevocationBenchmark(): Promise<void> {
  console.log(`Revocation benchmark: PostgreSQL at ${new URL(adminUrl).host}, ${ROWS} rows`);
  const empty = await createDatabase();
  const loaded = await createDatabase();
  const instances: Instance[] = [];
  try {
    // Propagation first, between two replicas in their own processes on their own database, while
    // this process (which polls) is still small: its own GC pauses would be measured too.
    const propagationDb = await createDatabase();
    const replicas: Array<{ url: string; stop: () => void }> = [];
    let samples: number[];
    try {
      replicas.push(await spawnReplica(propagationDb));
      replicas.push(await spawnReplica(propagationDb));
      samples = await propagation(replicas[0].url, replicas[1].url);
    } finally {
      for (const replica of replicas) replica.stop();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await dropDatabase(propagationDb);
    }
    const first = await start(empty);
    instances.push(first);

    // A database with ROWS revoked jtis (migrations run by a first start, then the rows).
    const seed = await start(loaded);
    await seed.close();
    let began = performance.now();
    await admin(async () => {
      const client = new Client({ connectionString: databaseUrl(loaded) });
      await client.connect();
      await client.query(
        `INSERT INTO revocations (kind, value, expires_at)
         SELECT 'jti', gen_random_uuid()::text, now() + interval '1 day'
           FROM generate_series(1, $1::int)`,
        [ROWS],
      );
      await client.end();
    });
    const insertMs = performance.now() - began;

    began = performance.now();
    const heavy = await start(loaded);
    instances.push(heavy);
    const bootMs = performance.now() - began;
    const revocation = heavy.app.get(RevocationIndexService);
    began = performance.now();
    await revocation.resync();
    const loadMs = performance.now() - began;
    const stats = revocation.indexStats;
    const standalone = standaloneIndexMemory(ROWS);

    // Throughput, interleaved so drift on a shared machine hits both sides alike.
    const lightTokens = mintMany(first, 1000);
    const heavyTokens = mintMany(heavy, 1000);
    const zero: number[] = [];
    const million: number[] = [];
    await verifyRound(first, lightTokens, 500);
    await verifyRound(heavy, heavyTokens, 500);
    for (let round = 0; round < ROUNDS; round++) {
      zero.push(await verifyRound(first, lightTokens, ROUND_MS));
      million.push(await verifyRound(heavy, heavyTokens, ROUND_MS));
    }
    const claimsOf = (tokens: string[]) =>
      tokens.map(
        (t) =>
          JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()) as AccessTokenClaims,
      );
    const checkZero: number[] = [];
    const checkMillion: number[] = [];
    const lightClaims = claimsOf(lightTokens);
    const heavyClaims = claimsOf(heavyTokens);
    for (let round = 0; round < ROUNDS; round++) {
      checkZero.push(checkRound(first.app.get(RevocationIndexService), lightClaims, 300));
      checkMillion.push(checkRound(revocation, heavyClaims, 300));
    }

    const p50 = percentile(samples, 50);
    const p99 = percentile(samples, 99);

    // Ratio of each adjacent pair of rounds, then the median: load from other processes on a
    // shared machine shifts both rounds of a pair alike.
    const zeroOps = median(zero);
    const millionOps = median(million);
    const ratio = median(million.map((ops, i) => ops / zero[i]));
    const checkRatio = median(checkMillion.map((ops, i) => ops / checkZero[i]));
    console.log('');
    console.log(`insert ${ROWS} rows (setup)             ${insertMs.toFixed(0)} ms`);
    console.log(
      `start-up of an instance with ${ROWS} rows   ${bootMs.toFixed(0)} ms (whole app, load included)`,
    );
    console.log(
      `index load (resync) of ${ROWS} rows         ${loadMs.toFixed(0)} ms   target < 5000 ms  ${verdict(loadMs < 5000)}`,
    );
    console.log(
      `index memory                          ${mb(stats.bytes)} (typed arrays); standalone heap+buffers ${mb(standalone.measured)}   target < 100 MB  ${verdict(Math.max(stats.bytes, standalone.measured) < 100 * 1024 * 1024)}`,
    );
    console.log(
      `verify throughput, 0 revoked          ${zeroOps.toFixed(0)} ops/s (median of ${ROUNDS})`,
    );
    console.log(
      `verify throughput, ${ROWS} revoked     ${millionOps.toFixed(0)} ops/s   ratio ${ratio.toFixed(3)} (median of paired rounds)   target >= 0.95  ${verdict(ratio >= 0.95)}`,
    );
    console.log(
      `revocation check alone, 0 / ${ROWS}     ${(median(checkZero) / 1e6).toFixed(2)} / ${(median(checkMillion) / 1e6).toFixed(2)} M lookups/s   ratio ${checkRatio.toFixed(3)}`,
    );
    console.log(
      `propagation (${samples.length} revocations)       p50 ${p50.toFixed(2)} ms   p99 ${p99.toFixed(2)} ms   max ${samples[samples.length - 1].toFixed(2)} ms   target p99 < 50 ms  ${verdict(p99 < 50)}`,
    );
  } finally {
    for (const instance of instances.reverse()) await instance.close().catch(() => undefined);
    await dropDatabase(empty);
    await dropDatabase(loaded);
  }
}
