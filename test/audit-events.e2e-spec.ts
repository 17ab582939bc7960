import { AuditService } from '../src/audit/audit.service';
import { TokenService } from '../src/oauth/token.service';
import { dropDatabase, startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, clientsJson, createUser, tokenFor, unique } from './support/factories';

/** An event as `GET /admin/audit` lists it: every field, null when unknown. */
interface AuditEvent {
  id: string;
  at: string;
  actor: string | null;
  actorMethod: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

const EVENT_FIELDS = [
  'action',
  'actor',
  'actorMethod',
  'at',
  'details',
  'id',
  'ip',
  'outcome',
  'requestId',
  'target',
  'userAgent',
];

const jtiOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { jti: string }).jti;

/**
 * What the audit trail records of each decision the review (issue 12) found incomplete: key
 * rotations and retirements with before/after, changes from the environment, API keys' grants,
 * password changes, who renewed a child, whose refused token it was, why a login or an admin
 * change failed, console sign-out — and one shape for every listed or exported event.
 */
describe('audit events: complete details', () => {
  let sut: TestApp;
  let admin: string;

  const events = async (query: Record<string, string | number>) => {
    await sut.app.get(AuditService).flush();
    const response = await sut
      .http()
      .get('/admin/audit')
      .query({ limit: 100, ...query })
      .set(bearer(admin));
    expect(response.status).toBe(200);
    return (response.body as { events: AuditEvent[] }).events;
  };
  const ofRequest = async (requestId: string, action?: string) =>
    (await events({ request_id: requestId, ...(action ? { action } : {}) }))[0];

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await sut.close();
  });

  describe('signing keys (4)', () => {
    const rotate = (mode: string, requestId: string) =>
      sut
        .http()
        .post('/admin/keys/rotate')
        .set(bearer(admin))
        .set('X-Request-Id', requestId)
        .send({ mode });
    const keyStates = async () => {
      const listed = await sut.http().get('/admin/keys').set(bearer(admin));
      const keys = listed.body as Array<{ kid: string; status: string }>;
      return {
        active: keys.find((k) => k.status === 'active')?.kid,
        next: keys.find((k) => k.status === 'next')?.kid,
        retiring: keys.filter((k) => k.status === 'retiring').map((k) => k.kid),
      };
    };

    it('records a soft rotation with the keys before and after (the previous active kid now retiring)', async () => {
      const before = await keyStates();
      const requestId = unique('soft-rotation');
      const response = await rotate('soft', requestId);
      expect(response.status).toBe(200);
      const event = await ofRequest(requestId, 'keys.rotate');
      expect(event).toMatchObject({
        actor: CLIENTS.admin.id,
        target: response.body.kid,
        details: {
          mode: 'soft',
          automatic: false,
          before: { active: before.active, next: before.next },
          after: { active: response.body.kid },
          retired: [],
        },
      });
      expect((event.details.after as { retiring: string[] }).retiring).toContain(before.active);
    });

    it('records a hard rotation with every key it retired, each also a keys.retire event', async () => {
      await rotate('soft', unique('soft-first'));
      const before = await keyStates();
      const verifying = [before.active, before.next, ...before.retiring];
      expect(verifying.length).toBeGreaterThanOrEqual(3);
      const requestId = unique('hard-rotation');
      const response = await rotate('hard', requestId);
      expect(response.status).toBe(200);
      admin = await tokenFor(sut.url, CLIENTS.admin); // a hard rotation ends every earlier token
      const rotation = await ofRequest(requestId, 'keys.rotate');
      expect(rotation).toMatchObject({
        actor: CLIENTS.admin.id,
        target: response.body.kid,
        details: {
          mode: 'hard',
          automatic: false,
          before: { active: before.active, next: before.next },
          after: { active: response.body.kid, retiring: [] },
        },
      });
      expect((rotation.details.retired as string[]).sort()).toEqual([...verifying].sort());
      const retirements = await events({ request_id: requestId, action: 'keys.retire' });
      expect(retirements.map((e) => e.target).sort()).toEqual([...verifying].sort());
      const ofActive = retirements.find((e) => e.target === before.active);
      expect(ofActive).toMatchObject({
        actor: CLIENTS.admin.id,
        outcome: 'success',
        details: {
          automatic: false,
          reason: 'hard rotation',
          rotated_to: response.body.kid,
          before: { status: 'active' },
          after: { status: 'retired' },
        },
      });
    });

    it('records a retirement with the key’s state before', async () => {
      await rotate('soft', unique('soft-for-retire'));
      const { retiring } = await keyStates();
      const requestId = unique('retire');
      const retired = await sut
        .http()
        .post(`/admin/keys/${retiring[0]}/retire`)
        .set(bearer(admin))
        .set('X-Request-Id', requestId)
        .send({});
      expect(retired.status).toBe(200);
      admin = await tokenFor(sut.url, CLIENTS.admin); // its token may have been signed by that key
      const event = await ofRequest(requestId, 'keys.retire');
      expect(event).toMatchObject({
        target: retiring[0],
        details: {
          automatic: false,
          before: { status: 'retiring', retiredAt: null },
          after: { status: 'retired' },
        },
      });
    });
  });

  it('records a client changed by the environment with its changed fields before and after (5)', async () => {
    const svc = { id: 'env-svc', secret: 'env-svc-secret-0123456789abcdef', roles: ['operator'] };
    const json = (roles: string[], rateLimit: string, models: string[]) =>
      JSON.stringify({
        ...JSON.parse(clientsJson()),
        [svc.id]: { secret: svc.secret, roles, rate_limit: rateLimit, models },
      });
    const first = await startTestApp({
      env: { AUTH_CLIENTS_JSON: json(['operator'], '10/minute', ['a-*']) },
    });
    const database = first.database;
    await first.close({ keepDatabase: true });
    const second = await startTestApp({
      database,
      env: { AUTH_CLIENTS_JSON: json(['viewer'], '20/minute', ['b-*']) },
    });
    try {
      await second.app.get(AuditService).flush();
      const response = await second
        .http()
        .get('/admin/audit')
        .query({ action: 'client.update', target: svc.id })
        .set(bearer(await tokenFor(second.url, CLIENTS.admin)));
      const [update] = (response.body as { events: AuditEvent[] }).events;
      expect(update).toMatchObject({
        actor: 'system',
        details: {
          source: 'environment',
          rekeyed: false,
          roles: ['viewer'],
          before: { roles: ['operator'], rate_limit: '10/minute', models: ['a-*'] },
          after: { roles: ['viewer'], rate_limit: '20/minute', models: ['b-*'] },
        },
      });
      expect((update.details.changed as string[]).sort()).toEqual([
        'models',
        'rate_limit',
        'roles',
      ]);
      expect(JSON.stringify(update)).not.toContain(svc.secret);
    } finally {
      await second.close();
      await dropDatabase(database);
    }
  });

  it('records an API key’s grant at creation, and its state before a revocation (6)', async () => {
    const created = await sut
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({
        name: 'k2',
        models: ['x-*'],
        rate_limit: '5/minute',
        token_limit: '100/day',
        budget: '1/month',
      });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const [create] = await events({ action: 'api_key.create', target: id });
    expect(create.details.after).toMatchObject({
      id,
      name: 'k2',
      models: ['x-*'],
      rate_limit: '5/minute',
      token_limit: '100/day',
      budget: '1/month',
      key: '[redacted]',
    });
    expect((await sut.http().delete(`/admin/api-keys/${id}`).set(bearer(admin))).status).toBe(200);
    const [revoke] = await events({ action: 'api_key.revoke', target: id });
    expect(revoke.details).toMatchObject({
      before: { revokedAt: null },
      after: { revokedAt: expect.any(String) },
      changed: ['revokedAt'],
    });
    expect(JSON.stringify([create, revoke])).not.toContain(created.body.key);
  });

  it('records a password change as changed: ["password"], never the password (7)', async () => {
    const user = await createUser(sut, admin);
    const changed = await sut
      .http()
      .patch(`/admin/users/${user.oid}`)
      .set(bearer(admin))
      .send({ password: 'another long password' });
    expect(changed.status).toBe(200);
    const [update] = await events({ action: 'user.update', target: user.oid });
    expect(update.details).toEqual({ before: {}, after: {}, changed: ['password'] });
    const both = await sut
      .http()
      .patch(`/admin/users/${user.oid}`)
      .set(bearer(admin))
      .send({ name: 'Renamed', password: 'yet another long password' });
    expect(both.status).toBe(200);
    const [second] = await events({ action: 'user.update', target: user.oid });
    expect(second.details).toMatchObject({ after: { name: 'Renamed' } });
    expect(second.details.changed).toEqual(['name', 'password']);
    expect(JSON.stringify(second)).not.toContain('long password');
  });

  it('names the parent token’s subject as the actor of a child renewed at POST /renew (8)', async () => {
    const pair = await sut
      .http()
      .post('/token-pairs')
      .set(bearer(admin))
      .send({ user_id: 'agent-renew', include_child: false });
    expect(pair.status).toBe(201);
    const requestId = unique('renew');
    const renewed = await sut
      .http()
      .post('/renew')
      .set('X-Request-Id', requestId)
      .send({ parent_token: pair.body.parent_token });
    expect(renewed.status).toBe(200);
    const issued = await ofRequest(requestId, 'token.issue');
    expect(issued).toMatchObject({
      actor: 'agent-renew',
      actorMethod: 'parent_token',
      target: renewed.body.child_jti,
      details: { grant: 'child', subject: 'agent-renew' },
    });
  });

  describe('refused tokens and logins (9)', () => {
    const infer = (token: string, requestId: string) =>
      sut
        .http()
        .post('/v1/infer')
        .set(bearer(token))
        .set('X-Request-Id', requestId)
        .send({ prompt: 'hi' });

    it('names the holder and client of a revoked token whose signature verified', async () => {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      const revoked = await sut
        .http()
        .post('/revoke')
        .set(bearer(admin))
        .send({ jti: jtiOf(token) });
      expect(revoked.status).toBe(200);
      const requestId = unique('revoked-token');
      expect((await infer(token, requestId)).status).toBe(401);
      expect(await ofRequest(requestId, 'auth.failed')).toMatchObject({
        actor: CLIENTS.operator.id,
        actorMethod: 'jwt',
        target: '/v1/infer',
        details: { reason: 'revoked_token', method: 'POST', client: CLIENTS.operator.id },
      });
    });

    it('names the holder of an expired token, and no one for a token that does not verify', async () => {
      const expired = sut.app
        .get(TokenService)
        .mint({ subject: 'expiring-sub', clientId: CLIENTS.operator.id, expiresIn: 1 });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const requestId = unique('expired-token');
      expect((await infer(expired.token, requestId)).status).toBe(401);
      expect(await ofRequest(requestId, 'auth.failed')).toMatchObject({
        actor: 'expiring-sub',
        details: { reason: 'token_expired', client: CLIENTS.operator.id },
      });
      // The same claims with a signature that does not verify: nobody is named.
      const [h, p] = expired.token.split('.');
      const forgedId = unique('forged-token');
      expect((await infer(`${h}.${p}.${'A'.repeat(342)}`, forgedId)).status).toBe(401);
      const forged = await ofRequest(forgedId, 'auth.failed');
      expect(forged).toMatchObject({ actor: null, actorMethod: null });
      expect(forged.details.client).toBeUndefined();
    });

    it('records why a login failed, while answering all three alike', async () => {
      const user = await createUser(sut, admin);
      const disabled = await createUser(sut, admin);
      await sut
        .http()
        .patch(`/admin/users/${disabled.oid}`)
        .set(bearer(admin))
        .send({ disabled: true });
      const login = async (email: string, password: string) => {
        const requestId = unique('login');
        const response = await sut
          .http()
          .post('/auth/login')
          .set('X-Request-Id', requestId)
          .send({ email, password });
        const event = await ofRequest(requestId, 'user.login');
        return { status: response.status, body: response.body as unknown, event };
      };
      const unknown = await login('nobody.at.all@example.com', 'whatever password');
      const wrong = await login(user.email, 'not the password');
      const off = await login(disabled.email, disabled.password);
      for (const attempt of [unknown, wrong, off]) {
        expect(attempt.status).toBe(401);
        expect(attempt.body).toEqual(unknown.body);
        expect(attempt.event.outcome).toBe('failure');
        expect(attempt.event.actor).toBeNull();
      }
      expect(unknown.event.details).toMatchObject({
        result: 'invalid_credentials',
        reason: 'unknown_user',
      });
      expect(wrong.event.details).toMatchObject({ reason: 'wrong_password' });
      expect(off.event.details).toMatchObject({ reason: 'user_disabled' });
    });
  });

  describe('failures say what the caller was told (10)', () => {
    it('records the status and the problem’s detail, not an exception class', async () => {
      const requestId = unique('bad-role');
      const refused = await sut
        .http()
        .post('/admin/roles')
        .set(bearer(admin))
        .set('X-Request-Id', requestId)
        .send({ name: 'trial2', permissions: ['bad perm'] });
      expect(refused.status).toBe(400);
      const event = await ofRequest(requestId, 'role.create');
      expect(event).toMatchObject({
        outcome: 'failure',
        target: 'trial2',
        details: { status: 400, code: 'validation_failed', error: refused.body.detail },
      });
      const weirdId = unique('weird-rotation');
      const weird = await sut
        .http()
        .post('/admin/keys/rotate')
        .set(bearer(admin))
        .set('X-Request-Id', weirdId)
        .send({ mode: 'weird' });
      expect(weird.status).toBe(400);
      expect((await ofRequest(weirdId, 'keys.rotate')).details).toEqual({
        mode: 'weird',
        automatic: false,
        status: 400,
        code: 'validation_failed',
        error: weird.body.detail,
      });
      expect(JSON.stringify([event, weird])).not.toMatch(/ValidationFailedError|\n\s+at /);
    });

    it('writes no token.revoke beside a refused client at /oauth/revoke, and a meaningful one after', async () => {
      const requestId = unique('oauth-revoke-refused');
      const refused = await sut
        .http()
        .post('/oauth/revoke')
        .set('X-Request-Id', requestId)
        .auth(CLIENTS.operator.id, 'wrong')
        .type('form')
        .send({ token: 'abc' });
      expect(refused.status).toBe(401);
      const trail = await events({ request_id: requestId });
      expect(trail.map((e) => e.action)).toEqual(['client.authenticate']);
      const missingId = unique('oauth-revoke-missing');
      const missing = await sut
        .http()
        .post('/oauth/revoke')
        .set('X-Request-Id', missingId)
        .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
        .type('form')
        .send({});
      expect(missing.status).toBe(400);
      expect(await ofRequest(missingId, 'token.revoke')).toMatchObject({
        outcome: 'failure',
        actor: CLIENTS.operator.id,
        details: { status: 400, code: 'invalid_request', error: 'token is required' },
      });
    });
  });

  it('records a console sign-out as user.logout: the user, the session’s family, never the token (11)', async () => {
    const user = await createUser(sut, admin);
    const header = { 'X-Tessera-Console': '1' };
    const signIn = await sut
      .http()
      .post('/console/api/session')
      .set(header)
      .send({ email: user.email, password: user.password });
    expect(signIn.status).toBe(200);
    const raw = signIn.headers['set-cookie'] as unknown as string[];
    const cookie = raw.find((c) => c.startsWith('tessera_console_session='))?.split(';')[0];
    expect(cookie).toBeDefined();
    const requestId = unique('sign-out');
    const out = await sut
      .http()
      .delete('/console/api/session')
      .set(header)
      .set('X-Request-Id', requestId)
      .set('Cookie', cookie as string);
    expect(out.status).toBe(204);
    const event = await ofRequest(requestId, 'user.logout');
    expect(event).toMatchObject({
      outcome: 'success',
      actor: user.oid,
      actorMethod: 'session_cookie',
      target: expect.stringMatching(/^[0-9a-f-]{36}$/),
      details: { source: 'console', refresh_tokens_revoked: 1 },
    });
    expect(JSON.stringify(event)).not.toContain((cookie as string).split('=')[1]);
  });

  it('lists and exports every event with every field, null when unknown; the chain still verifies (19)', async () => {
    const requestId = unique('shape');
    await sut
      .http()
      .get('/admin/audit')
      .set('Authorization', 'Bearer not-a-token')
      .set('X-Request-Id', requestId);
    const event = await ofRequest(requestId, 'auth.failed');
    expect(Object.keys(event).sort()).toEqual(EVENT_FIELDS);
    expect(event).toMatchObject({ actor: null, actorMethod: null });
    const exported = await sut
      .http()
      .get('/admin/audit/export')
      .query({ request_id: requestId })
      .set(bearer(admin));
    const [line] = exported.text.trim().split('\n');
    expect(Object.keys(JSON.parse(line) as object).sort()).toEqual(
      [...EVENT_FIELDS, 'hash', 'prev_hash'].sort(),
    );
    // Start-up's events have no request: the fields are there, null.
    const [startup] = await events({ action: 'client.create', actor: 'system' });
    expect(Object.keys(startup).sort()).toEqual(EVENT_FIELDS);
    expect(startup).toMatchObject({ ip: null, userAgent: null, requestId: null });
    const verified = await sut.http().get('/admin/audit/verify').set(bearer(admin));
    expect(verified.body).toMatchObject({ intact: true, first_broken: null });
  });
});
