import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PgListener } from '../src/database/pg-listener';
import type { RevocableToken } from '../src/revocation/revocation-index';
import { RevocationIndexService } from '../src/revocation/revocation-index.service';
import { RevocationsService } from '../src/revocation/revocations.service';
import { dropDatabase, Replicas, startReplicas, startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, createClient, TestClient, tokenFor } from './support/factories';
import { eventually } from './support/lifecycle';

/** The `client.authenticate` event of the request with this id (written after the answer: polled). */
async function clientRefusal(app: TestApp, admin: string, requestId: string) {
  const find = async () =>
    (
      (
        await app
          .http()
          .get('/admin/audit')
          .query({ action: 'client.authenticate', request_id: requestId })
          .set(bearer(admin))
      ).body as { events: Array<{ target: string; details: unknown }> }
    ).events[0];
  await eventually(async () => (await find()) !== undefined, { attempts: 200 });
  return find();
}

/** Both replicas must agree on the issuer, as replicas behind one load balancer do. */
const SHARED = { env: { JWT_ISSUER: 'http://tessera.test' } };

function claimsOf(token: string): RevocableToken {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as RevocableToken;
}

function jtiOf(token: string): string {
  return claimsOf(token).jti;
}

async function infer(app: TestApp, token: string) {
  return app.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });
}

/*
 * passport keeps one 'jwt' strategy per process, the last app's: with two apps in one test
 * process, every bearer token is verified by `second` (with its own revocation index). So a
 * revocation that must be enforced at once is made on `second`, and propagation is shown by
 * revoking on `first` and waiting for `second` to refuse.
 */
describe('Revocation: by jti, subject and client, on every replica, after restarts', () => {
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;
  let admin: string;

  beforeAll(async () => {
    replicas = await startReplicas(2, SHARED);
    [first, second] = replicas.apps;
    admin = await tokenFor(first.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await replicas?.close();
  });

  it('rejects a token revoked by value with 401 revoked_token', async () => {
    const token = await tokenFor(second.url, CLIENTS.operator);
    expect((await infer(second, token)).status).toBe(200);
    const revoke = await second.http().post('/revoke').set(bearer(admin)).send({ token });
    expect(revoke.status).toBe(200);
    expect(revoke.body).toEqual({ revoked: true, jti: jtiOf(token) });
    const response = await infer(second, token);
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({
      detail: 'Token has been revoked',
      code: 'revoked_token',
    });
    expect(response.headers['www-authenticate']).toContain('invalid_token');
  });

  it('revokes by jti with POST /revoke and DELETE /tokens/:jti', async () => {
    const one = await tokenFor(second.url, CLIENTS.operator);
    const two = await tokenFor(second.url, CLIENTS.operator);
    expect(
      (
        await second
          .http()
          .post('/revoke')
          .set(bearer(admin))
          .send({ jti: jtiOf(one) })
      ).status,
    ).toBe(200);
    expect(
      (
        await second
          .http()
          .delete(`/tokens/${jtiOf(two)}`)
          .set(bearer(admin))
      ).status,
    ).toBe(200);
    expect((await infer(second, one)).body.code).toBe('revoked_token');
    expect((await infer(second, two)).body.code).toBe('revoked_token');
  });

  it('refuses revocation to a caller without tokens:revoke, and bad input with 400', async () => {
    const operator = await tokenFor(first.url, CLIENTS.operator);
    const denied = await first.http().post('/revoke').set(bearer(operator)).send({ jti: 'x' });
    expect(denied.status).toBe(403);
    const both = await first
      .http()
      .post('/revoke')
      .set(bearer(admin))
      .send({ jti: 'a', token: 'b' });
    expect(both.status).toBe(400);
    expect(both.body.detail).toMatch(/exactly one of jti, token or client_id/);
    const forged = await first.http().post('/revoke').set(bearer(admin)).send({ token: 'a.b.c' });
    expect(forged.status).toBe(400);
    expect(forged.body.detail).toMatch(/^token:/);
  });

  it('enforces a revocation made on one replica on the other within moments', async () => {
    const token = await tokenFor(second.url, CLIENTS.operator);
    expect((await infer(second, token)).status).toBe(200);
    expect((await first.http().post('/revoke').set(bearer(admin)).send({ token })).status).toBe(
      200,
    );
    await eventually(async () => (await infer(second, token)).status === 401, {
      attempts: 200,
      intervalMs: 5,
    });
    expect((await infer(second, token)).body.code).toBe('revoked_token');
  });

  it('revokes every token of a user issued until now, and only those', async () => {
    const issue = () => first.http().post('/tokens').set(bearer(admin)).send({ user_id: 'alice' });
    const alice = (await issue()).body.token as string;
    const bob = (await first.http().post('/tokens').set(bearer(admin)).send({ user_id: 'bob' }))
      .body.token as string;
    const revoke = await first.http().delete('/users/alice/tokens').set(bearer(admin));
    expect(revoke.status).toBe(200);
    expect(revoke.body).toMatchObject({ revoked: true, user_id: 'alice' });
    await eventually(async () => (await infer(second, alice)).status === 401);
    expect((await infer(second, bob)).status).toBe(200);
    // "Revoked before T" is to the millisecond: a token issued once the revocation answered is
    // good at once, even within T's own second (its UUIDv7 jti carries its millisecond).
    const fresh = (await issue()).body.token as string;
    expect((await infer(first, fresh)).status).toBe(200);
    await eventually(async () => (await infer(second, fresh)).status === 200);
    expect((await infer(second, alice)).status).toBe(401);
  });

  /** Every token issued to the client until now, revoked through the API. */
  const revokeClient = (clientId: string) =>
    second.http().post('/revoke').set(bearer(admin)).send({ client_id: clientId });

  it('revokes everything issued to a client', async () => {
    const viewer = await tokenFor(second.url, CLIENTS.viewer);
    const metrics = () => second.http().get('/metrics').set(bearer(viewer));
    expect((await metrics()).status).toBe(200);
    expect((await revokeClient(CLIENTS.viewer.id)).status).toBe(200);
    expect((await metrics()).body.code).toBe('revoked_token');
    const scrape = await second
      .http()
      .get('/metrics')
      .set(bearer(await tokenFor(second.url, CLIENTS.admin)));
    expect(scrape.text).toMatch(/tessera_revocations\{kind="client"\} 1/);
    expect(scrape.text).toContain('tessera_revocation_in_sync 1');
    expect((await infer(second, await tokenFor(second.url, CLIENTS.operator))).status).toBe(200);
  });

  it('revokes a client’s tokens when it is disabled or deleted (enabling it again does not revive them)', async () => {
    const client = await createClient(second, admin, { roles: ['operator'] });
    const before = await tokenFor(second.url, client);
    expect((await infer(second, before)).status).toBe(200);
    const patch = (disabled: boolean) =>
      second.http().patch(`/admin/clients/${client.id}`).set(bearer(admin)).send({ disabled });
    expect((await patch(true)).status).toBe(200);
    expect((await infer(second, before)).body.code).toBe('revoked_token');
    expect((await patch(false)).status).toBe(200);
    expect((await infer(second, before)).body.code).toBe('revoked_token');
    const after = await tokenFor(second.url, client);
    expect((await infer(second, after)).status).toBe(200);
    expect(
      (await second.http().delete(`/admin/clients/${client.id}`).set(bearer(admin))).status,
    ).toBe(204);
    expect((await infer(second, after)).body.code).toBe('revoked_token');
  });

  it('keeps a client’s token issued right after its revocation good, even in the same second', async () => {
    // The operator revokes a compromised client's tokens; the client at once fetches a new token.
    // Each round starts early in a second, so the revoked token, the revocation and the new token
    // share a second (what `iat` alone cannot tell apart).
    const metrics = (token: string) => second.http().get('/metrics').set(bearer(token));
    let sameSecond = 0;
    for (let round = 0; round < 3; round++) {
      const intoSecond = Date.now() % 1000;
      if (intoSecond > 200) await new Promise((resolve) => setTimeout(resolve, 1000 - intoSecond));
      const old = await tokenFor(second.url, CLIENTS.viewer);
      expect((await metrics(old)).status).toBe(200);
      expect((await revokeClient(CLIENTS.viewer.id)).status).toBe(200);
      const fresh = await tokenFor(second.url, CLIENTS.viewer);
      if (claimsOf(fresh).iat === claimsOf(old).iat) sameSecond++;
      const refused = await metrics(old);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('revoked_token');
      expect((await metrics(fresh)).status).toBe(200);
      // A token minted on the other replica (same clock) right after is good as well.
      expect((await metrics(await tokenFor(first.url, CLIENTS.viewer))).status).toBe(200);
    }
    expect(sameSecond).toBeGreaterThan(0);
  });

  it('reports ready with the revocation index in sync, and resyncs after a lost connection', async () => {
    const ready = await first.http().get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.revocation).toMatchObject({ status: 'up' });

    // passport keeps one 'jwt' strategy per process, the last app's: in this in-process pair
    // every request is verified by `second`'s index, so `second` is the replica that goes deaf.
    const token = await tokenFor(second.url, CLIENTS.operator);
    await second.app.get(PgListener).simulateDisconnect();
    const notReady = await second.http().get('/health/ready');
    expect(notReady.status).toBe(503);
    expect(JSON.stringify(notReady.body)).toContain('revocation index not in sync');
    // Revoked elsewhere while this replica is not listening: the resync must bring it in.
    expect((await first.http().post('/revoke').set(bearer(admin)).send({ token })).status).toBe(
      200,
    );
    await eventually(async () => (await second.http().get('/health/ready')).status === 200, {
      attempts: 100,
      intervalMs: 50,
    });
    expect(second.app.get(RevocationIndexService).isRevoked(claimsOf(token))).toBe(true);
    expect((await infer(second, token)).body.code).toBe('revoked_token');
  });

  it('purges rows once every token they cover has expired, and keeps the others', async () => {
    const revocations = first.app.get(RevocationsService);
    const now = Math.floor(Date.now() / 1000);
    const expired = randomUUID();
    const live = randomUUID();
    await revocations.revokeJti(expired, now - 5);
    await revocations.revokeJti(live, now + 600);
    expect(await revocations.purge()).toBeGreaterThanOrEqual(1);
    const rows = (await first.app
      .get(DataSource)
      .query('SELECT value FROM revocations WHERE value = ANY($1)', [[expired, live]])) as Array<{
      value: string;
    }>;
    expect(rows.map((r) => r.value)).toEqual([live]);
    expect(
      first.app
        .get(RevocationIndexService)
        .isRevoked({ jti: live, sub: 'x', iat: now, exp: now + 600 }),
    ).toBe(true);
  });

  describe('RFC 7009 /oauth/revoke', () => {
    const revoke = (app: TestApp, client: TestClient, token: string) =>
      app.http().post('/oauth/revoke').auth(client.id, client.secret).type('form').send({ token });

    it('lets a client revoke its own token', async () => {
      const token = await tokenFor(second.url, CLIENTS.operator);
      const response = await revoke(second, CLIENTS.operator, token);
      expect(response.status).toBe(200);
      expect((await infer(second, token)).body.code).toBe('revoked_token');
    });

    it('refuses to revoke another client’s token, which keeps working', async () => {
      const token = await tokenFor(second.url, CLIENTS.operator);
      const response = await revoke(second, CLIENTS.viewer, token);
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('unauthorized_client');
      expect((await infer(second, token)).status).toBe(200);
    });

    it('answers 200 for an unknown token and 401 for a bad client secret', async () => {
      expect((await revoke(second, CLIENTS.operator, 'not-a-token')).status).toBe(200);
      const bad = await second
        .http()
        .post('/oauth/revoke')
        .auth(CLIENTS.operator.id, 'wrong-secret')
        .type('form')
        .set('X-Request-Id', 'revoke-bad-client')
        .send({ token: 'x' });
      expect(bad.status).toBe(401);
      expect(bad.body.error).toBe('invalid_client');
      // Audited as the token endpoint's refusals are: the client tried, and why.
      expect(await clientRefusal(second, admin, 'revoke-bad-client')).toMatchObject({
        target: CLIENTS.operator.id,
        details: { reason: 'invalid_client_credentials' },
      });
    });
  });

  describe('RFC 7662 /oauth/introspect', () => {
    const introspect = (caller: string, token: string) =>
      first.http().post('/oauth/introspect').set(bearer(caller)).type('form').send({ token });

    it('answers active with the claims for a good token and inactive once revoked', async () => {
      const token = await tokenFor(first.url, CLIENTS.operator);
      const active = await introspect(admin, token);
      expect(active.status).toBe(200);
      expect(active.body).toMatchObject({
        active: true,
        sub: CLIENTS.operator.id,
        client_id: CLIENTS.operator.id,
        jti: jtiOf(token),
        token_type: 'Bearer',
      });
      await first.http().post('/revoke').set(bearer(admin)).send({ token });
      expect((await introspect(admin, token)).body).toEqual({ active: false });
    });

    it('answers inactive for garbage and needs tokens:introspect', async () => {
      expect((await introspect(admin, 'garbage')).body).toEqual({ active: false });
      const operator = await tokenFor(first.url, CLIENTS.operator);
      expect((await introspect(operator, operator)).status).toBe(403);
    });

    it('refuses a resource server with a wrong secret, audited with the reason', async () => {
      const refused = await first
        .http()
        .post('/oauth/introspect')
        .auth(CLIENTS.admin.id, 'not-the-secret')
        .type('form')
        .set('X-Request-Id', 'introspect-bad-client')
        .send({ token: 'x' });
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
      expect(await clientRefusal(first, admin, 'introspect-bad-client')).toMatchObject({
        target: CLIENTS.admin.id,
        details: { reason: 'invalid_client_credentials' },
      });
    });
  });
});

describe('Revocation survives a restart', () => {
  it('still rejects a revoked token after every replica restarted', async () => {
    const before = await startTestApp(SHARED);
    const database = before.database;
    try {
      const admin = await tokenFor(before.url, CLIENTS.admin);
      const token = await tokenFor(before.url, CLIENTS.operator);
      expect((await before.http().post('/revoke').set(bearer(admin)).send({ token })).status).toBe(
        200,
      );
      await before.close({ keepDatabase: true });
      const after = await startTestApp({ ...SHARED, database });
      try {
        const response = await infer(after, token);
        expect(response.status).toBe(401);
        expect(response.body.code).toBe('revoked_token');
      } finally {
        await after.close();
      }
    } finally {
      await dropDatabase(database);
    }
  });
});
