import { decodeJwt } from 'jose';
import { Client } from 'pg';
import { LoginThrottle } from '../src/users/login-throttle';
import { AuditService } from '../src/audit/audit.service';
import { bearer, CLIENTS, TestClient, tokenFor, clientsJson } from './support/factories';
import { startTestApp, TestApp } from './support/app';

const WEB_APP: TestClient = {
  id: 'web-app',
  secret: 'web-app-secret-0123456789abcdef',
  roles: ['operator'],
};

describe('People: users, login, verify, password grant, lockout, usage', () => {
  let sut: TestApp;
  let admin: string;

  beforeAll(async () => {
    sut = await startTestApp({
      env: {
        LOGIN_MAX_FAILURES: '3',
        LOGIN_MAX_FAILURES_PER_IP: '1000',
        AUTH_CLIENTS_JSON: clientsJson([...Object.values(CLIENTS), WEB_APP]),
      },
    });
    admin = await tokenFor(sut.url, CLIENTS.admin);
    const allowPassword = await sut
      .http()
      .patch(`/admin/clients/${WEB_APP.id}`)
      .set(bearer(admin))
      .send({ grantTypes: ['client_credentials', 'password', 'refresh_token'] });
    expect(allowPassword.status).toBe(200);
  });

  afterAll(async () => {
    await sut.close();
  });

  let counter = 0;
  async function createUser(fields: Record<string, unknown> = {}) {
    counter += 1;
    const body = {
      email: `person${counter}@example.com`,
      password: 'correct horse battery',
      name: `Person ${counter}`,
      ...fields,
    };
    const response = await sut.http().post('/admin/users').set(bearer(admin)).send(body);
    expect(response.status).toBe(201);
    return { ...response.body, password: body.password } as {
      oid: string;
      email: string;
      name: string;
      roles: string[];
      password: string;
    };
  }

  const login = (email: string, password: string) =>
    sut.http().post('/auth/login').send({ email, password });

  it('creates a user with a UUID oid and the default role, never returning the hash', async () => {
    const user = await createUser();
    expect(user.oid).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.roles).toEqual(['operator']);
    expect(JSON.stringify(user)).not.toMatch(/argon2|hash/i);
    const listed = await sut.http().get('/admin/users').set(bearer(admin));
    expect(listed.body.map((u: { oid: string }) => u.oid)).toContain(user.oid);
  });

  it('refuses a second user with the same email in another case (409)', async () => {
    const user = await createUser();
    const again = await sut
      .http()
      .post('/admin/users')
      .set(bearer(admin))
      .send({ email: user.email.toUpperCase(), password: 'another password' });
    expect(again.status).toBe(409);
  });

  it('names the bad field: short password, bad email, unknown role', async () => {
    const bad = [
      [{ email: 'x@example.com', password: 'short' }, /password/],
      [{ email: 'not-an-email', password: 'long enough pw' }, /email/],
      [{ email: 'y@example.com', password: 'long enough pw', roles: ['wizard'] }, /roles/],
    ] as const;
    for (const [body, field] of bad) {
      const response = await sut.http().post('/admin/users').set(bearer(admin)).send(body);
      expect(response.status).toBe(400);
      expect(response.body.detail).toMatch(field);
    }
  });

  it('keeps /admin/users to principals with users:manage', async () => {
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut.http().get('/admin/users').set(bearer(operator));
    expect(response.status).toBe(403);
  });

  it('logs in with email and password: oid claims, roles, refresh token', async () => {
    const user = await createUser({ roles: ['viewer'] });
    const response = await login(user.email.toUpperCase(), user.password);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      claims: { oid: user.oid, email: user.email, name: user.name },
    });
    expect(response.body.refresh_token).toMatch(/^rt_/);
    const claims = decodeJwt(response.body.access_token);
    expect(claims).toMatchObject({
      sub: user.oid,
      oid: user.oid,
      email: user.email,
      name: user.name,
      roles: ['viewer'],
      iss: sut.url,
      aud: 'tessera',
    });

    const verify = await sut.http().get('/auth/verify').set(bearer(response.body.access_token));
    expect(verify.status).toBe(200);
    expect(verify.body).toEqual({
      user_id: user.oid,
      email: user.email,
      name: user.name,
      roles: ['viewer'],
      permissions: ['view_metrics'],
    });
  });

  it('answers an unknown email and a wrong password the same way', async () => {
    const user = await createUser();
    const unknown = await login('nobody-here@example.com', 'whatever password');
    const wrong = await login(user.email, 'wrong password');
    for (const response of [unknown, wrong]) {
      expect(response.status).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.body.detail).toBe('Invalid email or password');
      expect(response.body.code).toBe('invalid_credentials');
    }
    expect(unknown.body).toEqual(wrong.body);
  });

  it('refuses a disabled user with the same answer, and lets them in again when enabled', async () => {
    const user = await createUser();
    await sut.http().patch(`/admin/users/${user.oid}`).set(bearer(admin)).send({ disabled: true });
    const refused = await login(user.email, user.password);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe('Invalid email or password');
    await sut.http().patch(`/admin/users/${user.oid}`).set(bearer(admin)).send({ disabled: false });
    expect((await login(user.email, user.password)).status).toBe(200);
  });

  it('revokes a user’s refresh tokens when the account is disabled', async () => {
    const user = await createUser();
    const session = await login(user.email, user.password);
    expect(session.status).toBe(200);
    const revokedRows = async () => {
      const db = new Client({ connectionString: sut.databaseUrl });
      await db.connect();
      try {
        const result = await db.query(
          'SELECT count(*)::int AS n FROM refresh_tokens WHERE subject = $1 AND revoked_at IS NOT NULL',
          [user.oid],
        );
        return result.rows[0].n as number;
      } finally {
        await db.end();
      }
    };
    expect(await revokedRows()).toBe(0);
    const access = session.body.access_token as string;
    const me = () => sut.http().get('/v1/usage').set(bearer(access));
    expect((await me()).status).toBe(200);
    await sut.http().patch(`/admin/users/${user.oid}`).set(bearer(admin)).send({ disabled: true });
    expect(await revokedRows()).toBe(1);
    // Its access tokens too: revoked at once, not left to expire.
    expect((await me()).body.code).toBe('revoked_token');
  });

  it('changes a password and deletes a user', async () => {
    const user = await createUser();
    const changed = await sut
      .http()
      .patch(`/admin/users/${user.oid}`)
      .set(bearer(admin))
      .send({ password: 'a brand new password' });
    expect(changed.status).toBe(200);
    expect((await login(user.email, user.password)).status).toBe(401);
    expect((await login(user.email, 'a brand new password')).status).toBe(200);
    const removed = await sut.http().delete(`/admin/users/${user.oid}`).set(bearer(admin));
    expect(removed.status).toBe(204);
    expect((await sut.http().get(`/admin/users/${user.oid}`).set(bearer(admin))).status).toBe(404);
    expect((await sut.http().get('/admin/users/not-a-uuid').set(bearer(admin))).status).toBe(404);
  });

  it('locks an account after repeated failures with Retry-After, even for the right password', async () => {
    const user = await createUser();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const failed = await login(user.email, 'wrong password');
      expect(failed.status).toBe(401);
      ids.push(failed.headers['x-request-id']);
    }
    const locked = await login(user.email, user.password);
    expect(locked.status).toBe(429);
    // The lockout is in the trail: the failure that started it, and the attempt it refused
    // (before, both events looked like any other failure: no lock was named).
    await sut.app.get(AuditService).flush();
    const loginEvent = async (requestId: string) =>
      (
        await sut
          .http()
          .get('/admin/audit')
          .query({ request_id: requestId, action: 'user.login' })
          .set(bearer(admin))
      ).body.events[0] as { outcome: string; details: Record<string, unknown> };
    expect((await loginEvent(ids[1])).details).toEqual({
      result: 'invalid_credentials',
      reason: 'wrong_password',
    });
    expect((await loginEvent(ids[2])).details).toEqual({
      result: 'invalid_credentials',
      reason: 'wrong_password',
      lockout_started: ['account'],
      lockout_seconds: 15 * 60,
    });
    const refused = await loginEvent(locked.headers['x-request-id']);
    expect(refused).toMatchObject({ outcome: 'failure' });
    expect(refused.details).toEqual({
      result: 'locked_out',
      locked: 'account',
      retry_after: Number(locked.headers['retry-after']),
    });
    expect(locked.headers['content-type']).toContain('application/problem+json');
    expect(locked.body.detail).toBe('Too many requests');
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // Other accounts are not affected.
    const other = await createUser();
    expect((await login(other.email, other.password)).status).toBe(200);
  });

  it('locks unknown emails too, so a lockout does not reveal who has an account', async () => {
    for (let i = 0; i < 3; i++)
      expect((await login('ghost@example.com', 'wrong password')).status).toBe(401);
    expect((await login('ghost@example.com', 'wrong password')).status).toBe(429);
  });

  it('purges counters whose window and lockout are over, and keeps live ones', async () => {
    const db = new Client({ connectionString: sut.databaseUrl });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO login_attempts (key, failures, window_started, locked_until) VALUES
           ('account:old@example.com', 2, now() - interval '1 day', NULL),
           ('account:old-lock@example.com', 3, now() - interval '1 day', now() - interval '1 hour'),
           ('account:live@example.com', 1, now(), NULL)`,
      );
      await sut.app.get(LoginThrottle).purgeExpired();
      const { rows } = await db.query(
        `SELECT key FROM login_attempts WHERE key LIKE 'account:%old%' OR key = 'account:live@example.com'`,
      );
      expect(rows.map((r: { key: string }) => r.key)).toEqual(['account:live@example.com']);
    } finally {
      await db.end();
    }
  });

  it('counts lockouts in PostgreSQL, shared by a second replica', async () => {
    const replica = await startTestApp({
      database: sut.database,
      // Same issuer: passport keeps one 'jwt' strategy per process, the last app's.
      env: { LOGIN_MAX_FAILURES: '3', LOGIN_MAX_FAILURES_PER_IP: '1000', JWT_ISSUER: sut.url },
    });
    try {
      const user = await createUser();
      await login(user.email, 'wrong password');
      await replica.http().post('/auth/login').send({ email: user.email, password: 'nope nope' });
      await login(user.email, 'wrong password');
      const locked = await replica
        .http()
        .post('/auth/login')
        .send({ email: user.email, password: user.password });
      expect(locked.status).toBe(429);
    } finally {
      await replica.close();
    }
  });

  describe('password grant on /oauth/token', () => {
    const grant = (fields: Record<string, string>, client: TestClient = WEB_APP) =>
      sut
        .http()
        .post('/oauth/token')
        .auth(client.id, client.secret)
        .type('form')
        .send({ grant_type: 'password', ...fields });

    it('issues a user token and a refresh token to a client allowed the grant', async () => {
      const user = await createUser();
      const response = await grant({ username: user.email, password: user.password });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
      expect(response.body.refresh_token).toMatch(/^rt_/);
      const claims = decodeJwt(response.body.access_token);
      expect(claims).toMatchObject({
        sub: user.oid,
        oid: user.oid,
        email: user.email,
        client_id: WEB_APP.id,
        roles: ['operator'],
      });
      const infer = await sut
        .http()
        .post('/v1/infer')
        .set(bearer(response.body.access_token))
        .send({ prompt: 'hi' });
      expect(infer.status).toBe(200);
      expect(infer.body.sub).toBe(user.oid);
    });

    it('answers invalid_grant alike for an unknown user and a wrong password', async () => {
      const user = await createUser();
      const unknown = await grant({ username: 'nobody@example.com', password: 'whatever pw' });
      const wrong = await grant({ username: user.email, password: 'wrong password' });
      for (const response of [unknown, wrong]) {
        expect(response.status).toBe(400);
        expect(response.body.error).toBe('invalid_grant');
      }
      expect(unknown.body).toEqual(wrong.body);
      // The trail names the client the refused password came through.
      const deadline = Date.now() + 5000;
      let failures: Array<{ details: Record<string, unknown> }> = [];
      while (failures.length === 0 && Date.now() < deadline) {
        const page = await sut
          .http()
          .get('/admin/audit')
          .query({ action: 'user.login', target: user.email, outcome: 'failure' })
          .set(bearer(await tokenFor(sut.url, CLIENTS.admin)));
        failures = page.body.events;
        if (failures.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      // … and, for the audit trail only, why (the caller was told the same for both).
      expect(failures[0].details).toEqual({
        result: 'invalid_credentials',
        reason: 'wrong_password',
        client: WEB_APP.id,
      });
    });

    it('refuses a client not allowed the password grant (unauthorized_client)', async () => {
      const user = await createUser();
      const response = await grant(
        { username: user.email, password: user.password },
        CLIENTS.operator,
      );
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('unauthorized_client');
    });

    it('answers a locked account with 429, invalid_grant and Retry-After', async () => {
      const user = await createUser();
      for (let i = 0; i < 3; i++) await grant({ username: user.email, password: 'wrong password' });
      const response = await grant({ username: user.email, password: user.password });
      expect(response.status).toBe(429);
      expect(response.body.error).toBe('invalid_grant');
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    });
  });

  it('GET /v1/usage reports the caller’s own requests only', async () => {
    const alice = await createUser();
    const bob = await createUser();
    const aliceToken = (await login(alice.email, alice.password)).body.access_token as string;
    const bobToken = (await login(bob.email, bob.password)).body.access_token as string;
    for (let i = 0; i < 3; i++)
      await sut.http().post('/v1/infer').set(bearer(aliceToken)).send({ prompt: 'a' });
    await sut.http().get('/v1/models').set(bearer(bobToken));

    const mine = await sut.http().get('/v1/usage').set(bearer(aliceToken));
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ object: 'usage', subject: alice.oid, total_requests: 3 });
    expect(mine.body.endpoints).toEqual([
      expect.objectContaining({ endpoint: 'POST /v1/infer', requests: 3 }),
    ]);
    const his = await sut
      .http()
      .get('/v1/usage?subject=' + alice.oid)
      .set(bearer(bobToken));
    expect(his.body).toMatchObject({ subject: bob.oid, total_requests: 1 });
    expect(his.body.endpoints).toEqual([
      expect.objectContaining({ endpoint: 'GET /v1/models', requests: 1 }),
    ]);
  });
});

// Its own app (and database), after the main one has stopped.
describe('Login throttling per IP', () => {
  it('locks one address out after failures across several accounts', async () => {
    const app = await startTestApp({
      env: { LOGIN_MAX_FAILURES: '100', LOGIN_MAX_FAILURES_PER_IP: '2' },
    });
    try {
      for (const email of ['a@example.com', 'b@example.com'])
        expect(
          (await app.http().post('/auth/login').send({ email, password: 'xxxxxxxx' })).status,
        ).toBe(401);
      const third = await app
        .http()
        .post('/auth/login')
        .send({ email: 'c@example.com', password: 'xxxxxxxx' });
      expect(third.status).toBe(429);
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
      // Recorded as the address's lockout, not the account's (c@ had never failed).
      await app.app.get(AuditService).flush();
      const admin = await tokenFor(app.url, CLIENTS.admin);
      const events = (
        await app.http().get('/admin/audit').query({ action: 'user.login' }).set(bearer(admin))
      ).body.events as Array<{ target: string; details: Record<string, unknown> }>;
      expect(events.map((e) => [e.target, e.details])).toEqual([
        [
          'c@example.com',
          { result: 'locked_out', locked: 'address', retry_after: expect.any(Number) },
        ],
        [
          'b@example.com',
          {
            result: 'invalid_credentials',
            reason: 'unknown_user',
            lockout_started: ['address'],
            lockout_seconds: 15 * 60,
          },
        ],
        ['a@example.com', { result: 'invalid_credentials', reason: 'unknown_user' }],
      ]);
    } finally {
      await app.close();
    }
  });
});
