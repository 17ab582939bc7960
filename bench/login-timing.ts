/**
 * Login timing: an unknown email, a wrong password and a disabled account must cost the same
 * (no user enumeration by timing). Boots the real app on a throw-away database of DATABASE_URL's
 * server and times N logins of each kind over HTTP, interleaved.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- login-timing
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { createApp } from '../src/bootstrap';
import { UsersService } from '../src/users/users.service';

const ROUNDS = Number(process.env.ROUNDS ?? 40);

export async function runLoginTiming(): Promise<void> {
  if (!process.env.DATABASE_URL)
    throw new Error('Set DATABASE_URL (a PostgreSQL server to create a scratch database on)');
  const server = new URL(process.env.DATABASE_URL);
  const scratch = `tessera_bench_login_${Date.now().toString(36)}`;
  const adminDb = new Client({ connectionString: server.toString() });
  await adminDb.connect();
  await adminDb.query(`CREATE DATABASE "${scratch}"`);
  server.pathname = `/${scratch}`;
  try {
    await timeLogins(server.toString());
  } finally {
    await adminDb.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`);
    await adminDb.end();
  }
}

async function timeLogins(databaseUrl: string): Promise<void> {
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    LOGIN_MAX_FAILURES: '1000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    KEY_ENCRYPTION_KEY: process.env.KEY_ENCRYPTION_KEY ?? Buffer.alloc(32, 7).toString('base64'),
  });
  const app = await createApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  const users = app.get(UsersService);
  const suffix = Date.now().toString(36);
  const active = await users.create({
    email: `bench-${suffix}@example.com`,
    password: 'right password',
  });
  const disabled = await users.create({
    email: `off-${suffix}@example.com`,
    password: 'right password',
  });
  await users.update(disabled.oid, { disabled: true });

  const kinds: Record<string, { email: string; password: string }> = {
    'unknown email': { email: `nobody-${suffix}@example.com`, password: 'right password' },
    'wrong password': { email: active.email, password: 'wrong password' },
    'disabled user': { email: disabled.email, password: 'right password' },
    'success (reference)': { email: active.email, password: 'right password' },
  };
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(kinds).map((k) => [k, []]),
  );
  for (let round = 0; round < ROUNDS + 5; round++) {
    for (const [kind, body] of Object.entries(kinds)) {
      const start = performance.now();
      const response = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.arrayBuffer();
      if (round >= 5) samples[kind].push(performance.now() - start); // 5 warm-up rounds
    }
  }
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];
  const reference = pct(samples['unknown email'], 0.5);
  console.log(`POST /auth/login, ${ROUNDS} interleaved rounds (ms)`);
  console.log('kind                  median    p90   ratio to unknown-email median');
  for (const [kind, xs] of Object.entries(samples)) {
    console.log(
      `${kind.padEnd(20)} ${pct(xs, 0.5).toFixed(1).padStart(7)} ${pct(xs, 0.9).toFixed(1).padStart(6)}   ${(pct(xs, 0.5) / reference).toFixed(2)}`,
    );
  }
  await app.close();
}
