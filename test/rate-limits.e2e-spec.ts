import { randomBytes } from 'node:crypto';
import { freePort } from '../src/database/embedded-postgres';
import { AuditService } from '../src/audit/audit.service';
import { bearer, CLIENTS, createApiKey, createClient, tokenFor } from './support/factories';
import { Replicas, startReplicas, startTestApp, TestApp } from './support/app';
import { policyFile, standardPolicy } from './support/policy';
import { startTestRedis, TestRedis } from './support/redis';

const LIMITS = `  rate_limits:
    admin: "1000/minute"
    operator: "5/minute"
    viewer: "3/minute"
    default: "4/minute"
`;

describe('rate limits (memory backend)', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({ env: { AUTH_POLICY_FILE: policyFile(standardPolicy(LIMITS)) } });
  });

  afterAll(async () => {
    await sut.close();
  });

  it('allows exactly the configured count, then answers 429 problem+json with Retry-After', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    for (let i = 1; i <= 5; i++) {
      const ok = await sut.http().get('/v1/models').set(bearer(token));
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-limit']).toBe('5');
      expect(ok.headers['ratelimit-remaining']).toBe(String(5 - i));
      expect(Number(ok.headers['ratelimit-reset'])).toBeGreaterThan(0);
    }
    const limited = await sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'x' });
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.body).toMatchObject({
      status: 429,
      detail: 'Too many requests',
      code: 'rate_limited',
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
  });

  it('records which limit refused on the rate_limit.refused event: as written, and its source', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    // The role allows 5/minute; the client's own rate_limit is a second counter, 2/hour.
    const client = await createClient(sut, admin, { roles: ['operator'], rate_limit: '2/hour' });
    const token = await tokenFor(sut.url, client);
    for (let i = 0; i < 2; i++)
      expect((await sut.http().get('/v1/models').set(bearer(token))).status).toBe(200);
    const byGrant = await sut
      .http()
      .get('/v1/models')
      .set(bearer(token))
      .set('X-Request-Id', `rl-grant-${client.id}`);
    expect(byGrant.status).toBe(429);
    expect(byGrant.body.detail).toBe(
      "Request limit reached: 2/hour (the client's or API key's rate_limit)",
    );
    // The role's counter, for a principal without an override of its own.
    const viewerClient = await createClient(sut, admin, { roles: ['viewer'] });
    const viewer = await tokenFor(sut.url, viewerClient);
    let byRole;
    for (let i = 0; i < 5 && byRole?.status !== 429; i++)
      byRole = await sut
        .http()
        .get('/metrics')
        .set(bearer(viewer))
        .set('X-Request-Id', `rl-role-${client.id}-${i}`);
    expect(byRole?.status).toBe(429);
    await sut.app.get(AuditService).flush();
    const eventOf = async (requestId: string) => {
      const listed = await sut
        .http()
        .get('/admin/audit')
        .query({ request_id: requestId, action: 'rate_limit.refused' })
        .set(bearer(admin));
      expect(listed.status).toBe(200);
      return listed.body.events[0] as { actor: string; details: Record<string, unknown> };
    };
    // It said only {limit: 2}: not which window, nor whose limit.
    expect(await eventOf(`rl-grant-${client.id}`)).toMatchObject({
      actor: client.id,
      details: { limit: 2, policy: '2/hour', source: 'grant', method: 'GET' },
    });
    expect(await eventOf(byRole?.headers['x-request-id'] as string)).toMatchObject({
      actor: viewerClient.id,
      details: { limit: 3, policy: '3/minute', source: 'role', method: 'GET' },
    });
  });

  it('keeps one budget per principal: another client is not affected', async () => {
    const viewer = await tokenFor(sut.url, CLIENTS.viewer);
    for (let i = 0; i < 3; i++)
      expect((await sut.http().get('/metrics').set(bearer(viewer))).status).toBe(200);
    expect((await sut.http().get('/metrics').set(bearer(viewer))).status).toBe(429);
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const ok = await sut.http().get('/metrics').set(bearer(admin));
    expect(ok.status).toBe(200);
    expect(ok.headers['ratelimit-limit']).toBe('1000');
  });

  it('applies the stricter limit to a principal with several roles', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const { key } = await createApiKey(sut, admin, { roles: ['operator', 'viewer'] });
    const response = await sut.http().get('/v1/models').set('X-API-Key', key);
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-limit']).toBe('3');
  });

  it('does not limit public routes', async () => {
    const response = await sut.http().get('/health');
    expect(response.status).toBe(200);
    expect(response.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('rate limits (redis backend shared by two replicas)', () => {
  let redis: TestRedis;
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;
  const prefix = `tessera-test-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    redis = await startTestRedis();
    const env = {
      AUTH_POLICY_FILE: policyFile(standardPolicy(`${LIMITS}  rate_limit_backend: redis\n`)),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      JWT_ISSUER: 'http://tessera.test',
    };
    replicas = await startReplicas(2, { env });
    [first, second] = replicas.apps;
  });

  afterAll(async () => {
    await replicas?.close();
    await redis?.stop();
  });

  it('counts requests to both replicas against one budget', async () => {
    const token = await tokenFor(first.url, CLIENTS.operator);
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const app = i % 2 === 0 ? first : second;
      const response = await app.http().get('/v1/models').set(bearer(token));
      statuses.push(response.status);
      remaining.push(response.headers['ratelimit-remaining']);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(remaining).toEqual(['4', '3', '2', '1', '0', '0']);
  });
});

describe('rate limits when Redis is down', () => {
  let sut: TestApp;
  let closedPort: number;
  let redis: TestRedis | undefined;

  beforeAll(async () => {
    closedPort = await freePort();
    sut = await startTestApp({
      env: {
        AUTH_POLICY_FILE: policyFile(standardPolicy(`${LIMITS}  rate_limit_backend: redis\n`)),
        REDIS_URL: `redis://127.0.0.1:${closedPort}`,
      },
    });
  });

  afterAll(async () => {
    await sut.close();
    await redis?.stop();
  });

  it('fails closed: limited routes answer 503, public routes still answer', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut.http().get('/v1/models').set(bearer(token));
    expect(response.status).toBe(503);
    expect(response.body.detail).toBe('Rate limit store unavailable');
    expect((await sut.http().get('/health')).status).toBe(200);
  });

  it('recovers by itself when Redis comes back', async () => {
    redis = await startTestRedis({ port: closedPort });
    const token = await tokenFor(sut.url, CLIENTS.operator);
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await sut.http().get('/v1/models').set(bearer(token))).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  });
});
