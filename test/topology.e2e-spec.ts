import { freePort } from '../src/database/embedded-postgres';
import { clientsJson, CLIENTS, bearer, tokenFor } from './support/factories';
import { createDatabase, dropDatabase } from './support/app';
import { RunningServer, startServerProcess } from './support/process';
import request from 'supertest';

function databaseUrl(database: string): string {
  const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * The docker-compose topology with real processes: two Tessera servers on one PostgreSQL
 * (Redis too, when available), used alternately as a load balancer would.
 */
describe('two server processes on one database', () => {
  let database: string;
  let servers: RunningServer[] = [];

  beforeAll(async () => {
    database = await createDatabase();
    const issuer = 'http://tessera.test';
    const env = {
      DATABASE_URL: databaseUrl(database),
      JWT_ISSUER: issuer,
      AUTH_CLIENTS_JSON: clientsJson(),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
      // Request logs on, so the last test can check that no credential reaches them.
      LOG_LEVEL: 'debug',
      ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
    };
    // Started together, as replicas are: migrations and key bootstrap must not race.
    const ports = [await freePort(), await freePort()];
    servers = await Promise.all(ports.map((port) => startServerProcess(port, env)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await dropDatabase(database);
  });

  it('agrees on one signing key and verifies each other’s tokens', async () => {
    const [a, b] = servers;
    const jwksA = (await request(a.url).get('/.well-known/jwks.json')).body;
    const jwksB = (await request(b.url).get('/.well-known/jwks.json')).body;
    expect(jwksA.keys).toHaveLength(2); // the active key and the pre-published next one
    expect(jwksB).toEqual(jwksA);
    const fromA = await tokenFor(a.url, CLIENTS.operator);
    const onB = await request(b.url).post('/v1/infer').set(bearer(fromA)).send({ prompt: 'hi' });
    expect(onB.status).toBe(200);
  });

  it('enforces a hard rotation made on one server on the other', async () => {
    const [a, b] = servers;
    const old = await tokenFor(b.url, CLIENTS.operator);
    const admin = await tokenFor(a.url, CLIENTS.admin);
    expect(
      (await request(a.url).post('/secrets/refresh').set(bearer(admin)).send({ mode: 'hard' }))
        .status,
    ).toBe(200);
    const deadline = Date.now() + 5000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await request(b.url).post('/v1/infer').set(bearer(old)).send({ prompt: 'hi' }))
        .status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe(401);
    const fresh = await tokenFor(b.url, CLIENTS.operator);
    expect(
      (await request(a.url).post('/v1/infer').set(bearer(fresh)).send({ prompt: 'hi' })).status,
    ).toBe(200);
  });

  it('never logs a token or a client secret', async () => {
    const all = () => servers.map((s) => s.output()).join('\n');
    // Log lines are buffered and written within 250 ms: wait for the request lines.
    const deadline = Date.now() + 5_000;
    while (!all().includes('"url":"/v1/infer"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const output = all();
    expect(output).toContain('"url":"/v1/infer"'); // the requests were logged…
    expect(output).toContain('"authorization":"[redacted]"'); // …with the credential redacted
    expect(output).not.toContain(CLIENTS.operator.secret);
    expect(output).not.toContain(CLIENTS.admin.secret);
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});
