import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { RefreshTokensService } from '../src/refresh-tokens/refresh-tokens.service';
import { RenewalWorker } from '../src/tokens/renewal.worker';
import { Replicas, startReplicas, startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, clientsJson, TestClient, tokenFor } from './support/factories';
import { eventually, SseClient } from './support/lifecycle';

/** A service that may issue tokens but holds less than an admin. */
const ISSUER: TestClient = {
  id: 'test-issuer',
  secret: 'issuer-secret-0123456789abcdef',
  roles: ['issuer'],
};

function policyWithIssuerRole(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tessera-policy-')), 'auth.yaml');
  const shipped = readFileSync(join(__dirname, '..', 'config', 'auth.yaml'), 'utf8');
  writeFileSync(
    file,
    shipped.replace(
      '  roles:\n',
      '  roles:\n    - name: issuer\n      permissions: [tokens:issue, invoke]\n',
    ),
  );
  return file;
}

const ENV = {
  JWT_ISSUER: 'http://tessera.test',
  AUTH_POLICY_FILE: policyWithIssuerRole(),
  AUTH_CLIENTS_JSON: clientsJson([...Object.values(CLIENTS), ISSUER]),
};

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

/*
 * Two apps in one process share passport's single 'jwt' strategy, the last app's (`second`): an
 * immediate check after a revocation revokes on `second`, or waits for `second` to hear of it.
 */
describe('Token lifecycle: parent/child tokens, renewal, streams, refresh, external authorization', () => {
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;
  let admin: string;

  beforeAll(async () => {
    // A fast worker: children expiring within 60 s are renewed every second.
    const env = { ...ENV, AUTO_RENEW_WORKER_INTERVAL: '1', AUTO_RENEW_THRESHOLD_SECONDS: '60' };
    replicas = await startReplicas(2, { env });
    [first, second] = replicas.apps;
    admin = await tokenFor(first.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await replicas?.close();
  });

  const infer = (app: TestApp, token: string) =>
    app.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });

  const pair = (body: Record<string, unknown> = {}, caller = admin) =>
    first
      .http()
      .post('/token-pairs')
      .set(bearer(caller))
      .send({ user_id: 'agent-7', network: 'mainnet', rate_limit: 100, ...body });

  describe('POST /tokens', () => {
    it('issues a user token with the default role and the extra claims', async () => {
      const response = await first
        .http()
        .post('/tokens')
        .set(bearer(admin))
        .send({
          user_id: 'user123',
          expires_in: 3600,
          claims: { tier: 'gold' },
          network: 'mainnet',
        });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      const claims = claimsOf(response.body.token);
      expect(claims).toMatchObject({
        sub: 'user123',
        roles: ['operator'],
        tier: 'gold',
        network: 'mainnet',
        token_type: 'access',
      });
      expect((await infer(first, response.body.token)).status).toBe(200);
    });

    it('never gives a token more than the caller holds', async () => {
      const issuer = await tokenFor(first.url, ISSUER);
      const escalate = await first
        .http()
        .post('/tokens')
        .set(bearer(issuer))
        .send({ user_id: 'u', roles: ['admin'] });
      expect(escalate.status).toBe(403);
      const own = await first
        .http()
        .post('/tokens')
        .set(bearer(issuer))
        .send({ user_id: 'u', roles: ['issuer'] });
      expect(own.status).toBe(201);
      expect(claimsOf(own.body.token).roles).toEqual(['issuer']);
    });

    it('names the bad field and refuses callers without tokens:issue', async () => {
      const bad = await first
        .http()
        .post('/tokens')
        .set(bearer(admin))
        .send({ user_id: 'u', expires_in: -5 });
      expect(bad.status).toBe(400);
      expect(bad.body.detail).toMatch(/expires_in/);
      const unknownRole = await first
        .http()
        .post('/tokens')
        .set(bearer(admin))
        .send({ user_id: 'u', roles: ['wizard'] });
      expect(unknownRole.status).toBe(400);
      const operator = await tokenFor(first.url, CLIENTS.operator);
      expect(
        (await first.http().post('/tokens').set(bearer(operator)).send({ user_id: 'u' })).status,
      ).toBe(403);
    });
  });

  describe('parents and children', () => {
    it('issues a pair whose child works and whose parent is not an access token', async () => {
      const response = await pair();
      expect(response.status).toBe(201);
      const { parent_token, child_token, parent_jti } = response.body;
      expect(claimsOf(parent_token)).toMatchObject({ token_type: 'parent', network: 'mainnet' });
      expect(claimsOf(child_token)).toMatchObject({
        token_type: 'child',
        parent_jti,
        network: 'mainnet',
        rate_limit: 100,
        sub: 'agent-7',
      });
      expect((await infer(first, child_token)).status).toBe(200);
      const parentUse = await infer(first, parent_token);
      expect(parentUse.status).toBe(401);
      expect(parentUse.body.code).toBe('invalid_token');
    });

    it("publishes a new parent in jwt-auth-service's metrics at the next scrape", async () => {
      const { parent_jti } = (await pair({ user_id: 'agent-metrics' })).body;
      // One scrape: the three parent gauges come from one read (none from the scrape before).
      const text = (await first.http().get('/metrics').set(bearer(admin))).text;
      const active = Number(/^jwt_parent_tokens_active_total (\d+)$/m.exec(text)?.[1]);
      const series = (name: string) =>
        text.split('\n').filter((line) => line.startsWith(`${name}{`)).length;
      expect(active).toBeGreaterThan(0);
      expect(series('jwt_parent_token_issued_timestamp_seconds')).toBe(active);
      expect(series('jwt_parent_token_expiry_timestamp_seconds')).toBe(active);
      for (const name of ['issued', 'expiry'])
        expect(text).toMatch(
          new RegExp(
            `^jwt_parent_token_${name}_timestamp_seconds\\{user_id="agent-metrics",network="mainnet",parent_jti="${parent_jti}"\\} \\d+$`,
            'm',
          ),
        );
    });

    it('never lets a child outlive its parent', async () => {
      const response = await pair({ parent_expires_in: 5, include_child: true });
      expect(response.status).toBe(201);
      expect(response.body.child_expires_at).toBeLessThanOrEqual(response.body.parent_expires_at);
      const tooLong = await pair({ parent_expires_in: 60, child_expires_in: 120 });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.detail).toMatch(/child_expires_in/);
    });

    it('renews a child from the parent token, on any replica', async () => {
      const { parent_token, parent_jti } = (await pair({ include_child: false })).body;
      const renewed = await second.http().post('/renew').send({ parent_token });
      expect(renewed.status).toBe(200);
      expect(renewed.body.parent_jti).toBe(parent_jti);
      expect((await infer(first, renewed.body.child_token)).status).toBe(200);
      const notParent = await first
        .http()
        .post('/renew')
        .send({ parent_token: renewed.body.child_token });
      expect(notParent.status).toBe(401);
    });

    it('revoking a parent revokes every child and stops renewal, on every replica', async () => {
      const { parent_token, parent_jti, child_token } = (await pair()).body;
      const renewed = (await first.http().post('/renew').send({ parent_token })).body.child_token;
      const revoke = await first.http().delete(`/tokens/${parent_jti}`).set(bearer(admin));
      expect(revoke.status).toBe(200);
      for (const child of [child_token, renewed]) {
        await eventually(async () => (await infer(second, child)).status === 401);
        expect((await infer(second, child)).body.code).toBe('revoked_token');
      }
      const again = await second.http().post('/renew').send({ parent_token });
      expect(again.status).toBe(401);
      expect(again.body.code).toBe('revoked_token');
    });

    it('revoking a user revokes the user’s parents and their children', async () => {
      const { parent_token, child_token } = (await pair({ user_id: 'agent-gone' })).body;
      expect(
        (await first.http().delete('/users/agent-gone/tokens').set(bearer(admin))).body,
      ).toMatchObject({ parents_revoked: 1 });
      await eventually(async () => (await infer(second, child_token)).status === 401);
      expect((await infer(second, child_token)).body.code).toBe('revoked_token');
      expect((await first.http().post('/renew').send({ parent_token })).status).toBe(401);
    });
  });

  describe('GET /tokens/latest', () => {
    it('returns the newest child to its parent or to a tokens:issue caller, nobody else', async () => {
      const { parent_token, parent_jti } = (await pair()).body;
      const renewed = (await first.http().post('/renew').send({ parent_token })).body;
      const latest = await second
        .http()
        .get('/tokens/latest')
        .query({ parent_jti })
        .set(bearer(parent_token));
      expect(latest.status).toBe(200);
      expect(latest.body.parent_jti).toBe(parent_jti);
      expect(latest.body.expires_at).toBeGreaterThanOrEqual(renewed.expires_at);
      expect((await infer(second, latest.body.child_token)).status).toBe(200);

      const byIssuer = await first
        .http()
        .get('/tokens/latest')
        .query({ parent_jti })
        .set(bearer(admin));
      expect(byIssuer.status).toBe(200);
      const other = (await pair()).body.parent_token;
      const wrongParent = await first
        .http()
        .get('/tokens/latest')
        .query({ parent_jti })
        .set(bearer(other));
      expect(wrongParent.status).toBe(403);
      const operator = await tokenFor(first.url, CLIENTS.operator);
      expect(
        (await first.http().get('/tokens/latest').query({ parent_jti }).set(bearer(operator)))
          .status,
      ).toBe(403);
      expect((await first.http().get('/tokens/latest').query({ parent_jti })).status).toBe(401);
      expect((await first.http().get('/tokens/latest').set(bearer(admin))).status).toBe(400);
      const unknown = await first
        .http()
        .get('/tokens/latest')
        .query({ parent_jti: 'not-a-uuid' })
        .set(bearer(admin));
      expect(unknown.status).toBe(404);
    });
  });

  describe('GET /tokens/stream', () => {
    it('pushes each child the worker mints on any replica, then revoked', async () => {
      const { parent_token, parent_jti, child_jti } = (await pair({ child_expires_in: 30 })).body;
      const stream = await SseClient.open(
        `${second.url}/tokens/stream?parent_jti=${parent_jti}`,
        bearer(parent_token),
      );
      try {
        expect(stream.status).toBe(200);
        expect(stream.contentType).toContain('text/event-stream');
        // The current child at once, then a renewal by whichever replica's worker got the row.
        await stream.next((e) => e.event === 'token');
        const renewal = await stream.next(
          (e) => e.event === 'token' && (e.data as { child_jti: string }).child_jti !== child_jti,
        );
        const renewed = renewal.data as { child_token: string; parent_jti: string };
        expect(renewed.parent_jti).toBe(parent_jti);
        expect((await infer(first, renewed.child_token)).status).toBe(200);

        await first.http().delete(`/tokens/${parent_jti}`).set(bearer(admin));
        const revoked = await stream.next((e) => e.event === 'revoked');
        expect(revoked.data).toEqual({ parent_jti });
      } finally {
        stream.close();
      }
    });

    it('refuses a stream without the parent token', async () => {
      const { parent_jti } = (await pair()).body;
      const response = await first.http().get('/tokens/stream').query({ parent_jti });
      expect(response.status).toBe(401);
    });
  });

  describe('refresh_token grant', () => {
    it('rotates on each use and revokes the family when a used token comes back', async () => {
      const refresh = first.app.get(RefreshTokensService);
      const { refreshToken } = await refresh.issue({
        subject: 'user-r',
        clientId: CLIENTS.operator.id,
        scopes: ['model:invoke'],
        roles: ['operator'],
        claims: { email: 'r@example.com' },
      });
      const grant = (token: string) =>
        first
          .http()
          .post('/oauth/token')
          .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
          .type('form')
          .send({ grant_type: 'refresh_token', refresh_token: token });
      const rotated = await grant(refreshToken);
      expect(rotated.status).toBe(200);
      expect(rotated.body.refresh_token).toMatch(/^rt_/);
      expect(rotated.body.refresh_token).not.toBe(refreshToken);
      expect(claimsOf(rotated.body.access_token)).toMatchObject({
        sub: 'user-r',
        email: 'r@example.com',
      });
      expect((await infer(first, rotated.body.access_token)).status).toBe(200);

      const reuse = await grant(refreshToken);
      expect(reuse.status).toBe(400);
      expect(reuse.body.error).toBe('invalid_grant');
      const familyGone = await grant(rotated.body.refresh_token);
      expect(familyGone.body.error).toBe('invalid_grant');
    });

    it('can be revoked with RFC 7009 by the client it was issued to only', async () => {
      const { refreshToken } = await first.app.get(RefreshTokensService).issue({
        subject: 'user-s',
        clientId: CLIENTS.operator.id,
        scopes: ['model:invoke'],
        roles: ['operator'],
      });
      const revoke = (client: TestClient) =>
        first
          .http()
          .post('/oauth/revoke')
          .auth(client.id, client.secret)
          .type('form')
          .send({ token: refreshToken, token_type_hint: 'refresh_token' });
      const foreign = await revoke(CLIENTS.viewer);
      expect(foreign.status).toBe(400);
      expect(foreign.body.error).toBe('unauthorized_client');
      expect((await revoke(CLIENTS.operator)).status).toBe(200);
      const grant = await first
        .http()
        .post('/oauth/token')
        .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: refreshToken });
      expect(grant.status).toBe(400);
      expect(grant.body.error).toBe('invalid_grant');
    });

    it('is advertised in discovery', async () => {
      const response = await first.http().get('/.well-known/openid-configuration');
      expect(response.body.grant_types_supported).toContain('refresh_token');
    });
  });

  describe('POST /authorize (Envoy/Istio external authorization)', () => {
    it('answers 200 with identity headers for a valid access or child token', async () => {
      const operator = await tokenFor(first.url, CLIENTS.operator);
      const response = await first.http().post('/authorize').set(bearer(operator));
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({
        'x-auth-subject': CLIENTS.operator.id,
        'x-auth-client-id': CLIENTS.operator.id,
        'x-auth-scopes': 'model:invoke sync:write',
        'x-auth-roles': 'operator',
      });
      const { child_token } = (await pair()).body;
      const envoy = await first.http().get('/authorize/v1/models').set(bearer(operator));
      expect(envoy.status).toBe(200);
      expect(envoy.headers['x-auth-subject']).toBe(CLIENTS.operator.id);
      const child = await first.http().post('/authorize').set(bearer(child_token));
      expect(child.status).toBe(200);
      expect(child.headers['x-auth-subject']).toBe('agent-7');
    });

    it('answers 401 for missing, revoked or parent tokens, and 403 for a missing permission', async () => {
      expect((await first.http().post('/authorize')).status).toBe(401);
      const { parent_token, parent_jti, child_token } = (await pair()).body;
      expect((await first.http().post('/authorize').set(bearer(parent_token))).status).toBe(401);
      await second.http().post('/revoke').set(bearer(admin)).send({ jti: parent_jti });
      const orphan = await first.http().post('/authorize').set(bearer(child_token));
      expect(orphan.status).toBe(401);
      expect(orphan.body.code).toBe('revoked_token');
      const operator = await tokenFor(first.url, CLIENTS.operator);
      const forbidden = await first
        .http()
        .post('/authorize')
        .query({ permission: 'keys:rotate' })
        .set(bearer(operator));
      expect(forbidden.status).toBe(403);
    });
  });
});

describe('Auto-renewal with several replicas', () => {
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;

  beforeAll(async () => {
    // The timer stays out of the way (a day); the test runs the passes itself.
    const env = { ...ENV, AUTO_RENEW_WORKER_INTERVAL: '86400', AUTO_RENEW_THRESHOLD_SECONDS: '60' };
    replicas = await startReplicas(2, { env });
    [first, second] = replicas.apps;
  });

  afterAll(async () => {
    await replicas?.close();
  });

  it('mints exactly one new child per due parent when every replica runs the worker at once', async () => {
    const admin = await tokenFor(first.url, CLIENTS.admin);
    const parents: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await first
        .http()
        .post('/token-pairs')
        .set(bearer(admin))
        .send({ user_id: `agent-${i}`, child_expires_in: 600 });
      parents.push(response.body.parent_jti);
    }
    // Make their children due, as 590 seconds passing would.
    await first.app.get(DataSource).query(
      `UPDATE parent_tokens
            SET latest_child_expires_at = now() + interval '10 seconds',
                latest_child = jsonb_set(latest_child, '{iat}',
                  to_jsonb(floor(extract(epoch FROM now()))::bigint - 590))
          WHERE jti = ANY($1)`,
      [parents],
    );
    const minted = await Promise.all([
      first.app.get(RenewalWorker).runOnce(),
      second.app.get(RenewalWorker).runOnce(),
      first.app.get(RenewalWorker).runOnce(),
    ]);
    expect(minted[0] + minted[1]).toBe(parents.length);
    expect(await first.app.get(RenewalWorker).runOnce()).toBe(0);
  });
});

describe('Parents after a hard key rotation', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({
      env: { ...ENV, AUTO_RENEW_WORKER_INTERVAL: '86400', AUTO_RENEW_THRESHOLD_SECONDS: '60' },
    });
  });

  afterAll(async () => {
    await sut?.close();
  });

  it('stops renewing and serving children of parents whose signing key was retired', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const { parent_jti } = (
      await sut
        .http()
        .post('/token-pairs')
        .set(bearer(admin))
        .send({ user_id: 'agent-r', child_expires_in: 30 })
    ).body;
    const rotate = await sut
      .http()
      .post('/admin/keys/rotate')
      .set(bearer(admin))
      .send({ mode: 'hard' });
    expect(rotate.status).toBeLessThan(300);
    // Its child is due (as if 25 seconds had passed): without its key it gets no successor.
    await sut.app.get(DataSource).query(
      `UPDATE parent_tokens
          SET latest_child_expires_at = now() + interval '5 seconds',
              latest_child = jsonb_set(latest_child, '{iat}',
                to_jsonb(floor(extract(epoch FROM now()))::bigint - 25))
        WHERE jti = $1`,
      [parent_jti],
    );
    expect(await sut.app.get(RenewalWorker).runOnce()).toBe(0);
    const fresh = await tokenFor(sut.url, CLIENTS.admin);
    const latest = await sut.http().get('/tokens/latest').query({ parent_jti }).set(bearer(fresh));
    expect(latest.status).toBe(401);
  });
});
