import { bearer, CLIENTS, createClient, tokenFor } from './support/factories';
import { AuditService } from '../src/audit/audit.service';
import { startTestApp, TestApp } from './support/app';

interface AuditEvent {
  id: string;
  action: string;
  outcome: string;
  actor?: string;
  target?: string;
  details: Record<string, unknown>;
}

describe('audit trail', () => {
  let sut: TestApp;
  let admin: string;

  const events = async (query: Record<string, string | number>) => {
    const response = await sut.http().get('/admin/audit').query(query).set(bearer(admin));
    expect(response.status).toBe(200);
    return response.body as { events: AuditEvent[]; next_cursor: string | null };
  };

  /** Token issuance is recorded without delaying the answer: poll (bounded) for it. */
  const eventually = async (query: Record<string, string>, check: (e: AuditEvent[]) => boolean) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const page = await events(query);
      if (check(page.events)) return page.events;
      if (Date.now() > deadline)
        throw new Error(`no matching audit event for ${JSON.stringify(query)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await sut.close();
  });

  it('records token issuance and failed client authentication', async () => {
    await tokenFor(sut.url, CLIENTS.operator);
    const issued = await eventually(
      { action: 'token.issue', actor: CLIENTS.operator.id, outcome: 'success' },
      (e) => e.length > 0,
    );
    expect(issued[0]).toMatchObject({
      outcome: 'success',
      details: { grant: 'client_credentials' },
    });
    await sut
      .http()
      .post('/oauth/token')
      .auth(CLIENTS.operator.id, 'wrong')
      .type('form')
      .send({ grant_type: 'client_credentials' });
    const failed = await eventually(
      { action: 'client.authenticate', outcome: 'failure' },
      (e) => e.length > 0,
    );
    expect(failed[0].target).toBe(CLIENTS.operator.id);
    expect(failed[0].details).toEqual({ reason: 'invalid_client_credentials' });
  });

  it('says why a client was refused: unknown, wrong secret, disabled (the caller is told none)', async () => {
    const client = await createClient(sut, admin);
    const ask = async (id: string, secret: string) => {
      const response = await sut
        .http()
        .post('/oauth/token')
        .auth(id, secret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ error: 'invalid_client' });
      const [event] = await eventually(
        { action: 'client.authenticate', target: id },
        (e) => e.length > 0,
      );
      return event;
    };
    expect((await ask('no-such-client-x', 'whatever')).details).toEqual({
      reason: 'client_not_found',
    });
    expect((await ask(client.id, 'not-the-secret')).details).toEqual({
      reason: 'invalid_client_credentials',
    });
    const disabled = await sut
      .http()
      .patch(`/admin/clients/${client.id}`)
      .set(bearer(admin))
      .send({ disabled: true });
    expect(disabled.status).toBe(200);
    const response = await sut
      .http()
      .post('/oauth/token')
      .auth(client.id, client.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(401);
    const latest = await eventually(
      { action: 'client.authenticate', target: client.id },
      (e) => e.length >= 2,
    );
    expect(latest[0].details).toEqual({ reason: 'client_disabled' });
    expect(JSON.stringify(latest)).not.toContain(client.secret);
  });

  it('records refused token requests: a bad or replayed refresh token, a scope not allowed', async () => {
    const user = await sut.http().post('/admin/users').set(bearer(admin)).send({
      email: 'refresh.audit@example.com',
      name: 'Refresh Audit',
      password: 'a long enough password',
    });
    expect(user.status).toBe(201);
    const login = await sut
      .http()
      .post('/auth/login')
      .send({ email: 'refresh.audit@example.com', password: 'a long enough password' });
    const refresh = (token: string, requestId: string) =>
      sut
        .http()
        .post('/oauth/token')
        .set('X-Request-Id', requestId)
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: token });
    expect((await refresh(login.body.refresh_token, 'refresh-ok')).status).toBe(200);
    // The consumed token again: refused, and its whole family revoked.
    expect((await refresh(login.body.refresh_token, 'refresh-replayed')).status).toBe(400);
    expect((await refresh('rt_not-a-real-token', 'refresh-bogus')).status).toBe(400);
    const scope = await sut
      .http()
      .post('/oauth/token')
      .set('X-Request-Id', 'scope-refused')
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'admin:everything' });
    expect(scope.body.error).toBe('invalid_scope');
    const refused = async (requestId: string) =>
      (
        await eventually(
          { action: 'token.issue', outcome: 'failure', request_id: requestId },
          (e) => e.length > 0,
        )
      )[0];
    expect(await refused('refresh-replayed')).toMatchObject({
      actor: user.body.oid,
      target: user.body.oid,
      details: {
        grant: 'refresh_token',
        error: 'invalid_grant',
        reason: 'Refresh token was already used; its whole family is revoked',
        family_revoked: true,
      },
    });
    expect((await refused('refresh-bogus')).details).toEqual({
      grant: 'refresh_token',
      error: 'invalid_grant',
      reason: 'Invalid refresh token',
    });
    expect(await refused('scope-refused')).toMatchObject({
      actor: CLIENTS.operator.id,
      details: {
        grant: 'client_credentials',
        error: 'invalid_scope',
        client: CLIENTS.operator.id,
      },
    });
    const trail = JSON.stringify((await events({ action: 'token.issue', limit: 100 })).events);
    expect(trail).not.toContain(login.body.refresh_token);
  });

  it("records the sender's address, or a trusted proxy's X-Forwarded-For (TRUST_PROXY)", async () => {
    const refusedFrom = async (app: TestApp, requestId: string) => {
      await app
        .http()
        .post('/oauth/token')
        .set('X-Request-Id', requestId)
        .set('X-Forwarded-For', '203.0.113.7')
        .auth(CLIENTS.operator.id, 'wrong secret')
        .type('form')
        .send({ grant_type: 'client_credentials' });
      await app.app.get(AuditService).flush();
      const page = await app
        .http()
        .get('/admin/audit')
        .query({ request_id: requestId })
        .set(bearer(await tokenFor(app.url, CLIENTS.admin)));
      return (page.body.events as Array<{ ip: string }>)[0]?.ip;
    };
    // The default trusts a proxy on loopback (these requests come from 127.0.0.1) …
    expect(await refusedFrom(sut, 'xff-trusted')).toBe('203.0.113.7');
    // … one that trusts only another network records the sender itself.
    const strict = await startTestApp({ env: { TRUST_PROXY: '10.0.0.0/8' } });
    try {
      expect(await refusedFrom(strict, 'xff-untrusted')).toBe('127.0.0.1');
    } finally {
      await strict.close();
    }
  });

  it('records what start-up created: the first signing key, the clients from the environment, the bootstrap admin', async () => {
    const startup = async (action: string) =>
      (await events({ action, actor: 'system', limit: 100 })).events;
    const [key] = await startup('keys.rotate');
    expect(key).toMatchObject({
      outcome: 'success',
      target: expect.any(String),
      details: { mode: 'soft', automatic: true, reason: 'no active signing key (first start)' },
    });
    const created = await startup('client.create');
    expect(created.map((e) => e.target)).toEqual(
      expect.arrayContaining([CLIENTS.admin.id, CLIENTS.operator.id]),
    );
    expect(created.find((e) => e.target === CLIENTS.operator.id)?.details).toMatchObject({
      source: 'environment',
    });
    expect(JSON.stringify(created)).not.toContain(CLIENTS.operator.secret);
  });

  it('records admin changes with actor and target, never the secret', async () => {
    const created = await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({ id: 'audited-client' });
    expect(created.status).toBe(201);
    const [event] = (await events({ action: 'client.create', target: 'audited-client' })).events;
    expect(event).toMatchObject({
      outcome: 'success',
      actor: CLIENTS.admin.id,
      target: 'audited-client',
    });
    expect(JSON.stringify(event)).not.toContain(created.body.client_secret);
    const missing = await sut.http().delete('/admin/clients/no-such-client').set(bearer(admin));
    expect(missing.status).toBe(404);
    const [failure] = (await events({ action: 'client.delete' })).events;
    expect(failure).toMatchObject({ outcome: 'failure', target: 'no-such-client' });
  });

  it('records an admin change with the changed non-secret fields before and after', async () => {
    await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({ id: 'changing', name: 'Old' });
    const patched = await sut
      .http()
      .patch('/admin/clients/changing')
      .set(bearer(admin))
      .send({ name: 'New', roles: ['viewer'] });
    expect(patched.status).toBe(200);
    const [update] = (await events({ action: 'client.update', target: 'changing' })).events;
    expect(update).toMatchObject({
      actor: CLIENTS.admin.id,
      details: {
        before: { name: 'Old', roles: ['operator'] },
        after: { name: 'New', roles: ['viewer'] },
      },
    });
    expect(Object.keys(update.details.before as object).sort()).toEqual(['name', 'roles']);
    const reset = await sut.http().post('/admin/clients/changing/secret').set(bearer(admin));
    const [secret] = (await events({ action: 'client.secret_reset', target: 'changing' })).events;
    expect(JSON.stringify(secret)).not.toContain(reset.body.client_secret);
    await sut.http().delete('/admin/clients/changing').set(bearer(admin));
    const [deleted] = (await events({ action: 'client.delete', target: 'changing' })).events;
    expect(deleted.details).toMatchObject({ before: { id: 'changing', name: 'New' }, after: null });
  });

  it('targets a created user or API key by its id (as later events do), not by its name', async () => {
    const user = await sut.http().post('/admin/users').set(bearer(admin)).send({
      email: 'target.ada@example.com',
      name: 'Ada',
      password: 'correct horse battery',
    });
    expect(user.status).toBe(201);
    const oid = (user.body as { oid: string }).oid;
    const patched = await sut
      .http()
      .patch(`/admin/users/${oid}`)
      .set(bearer(admin))
      .send({ name: 'Ada L.' });
    expect(patched.status).toBe(200);
    const byUser = (await events({ target: oid })).events.map((e) => e.action);
    expect(byUser).toEqual(['user.update', 'user.create']);
    expect((await events({ action: 'user.create', target: 'Ada' })).events).toEqual([]);

    const key = await sut.http().post('/admin/api-keys').set(bearer(admin)).send({ name: 'batch' });
    expect(key.status).toBe(201);
    const id = (key.body as { id: string }).id;
    expect(id).toMatch(/^ak_/);
    expect((await sut.http().delete(`/admin/api-keys/${id}`).set(bearer(admin))).status).toBe(200);
    const byKey = (await events({ target: id })).events;
    expect(byKey.map((e) => e.action)).toEqual(['api_key.revoke', 'api_key.create']);
    expect(JSON.stringify(byKey)).not.toContain((key.body as { key: string }).key);
    expect((await events({ action: 'api_key.create', target: 'batch' })).events).toEqual([]);
  });

  it('keeps non-secret fields named after tokens: token_limit before/after, token_type', async () => {
    await createClient(sut, admin, { id: 'limited' });
    const patched = await sut
      .http()
      .patch('/admin/clients/limited')
      .set(bearer(admin))
      .send({ token_limit: '20000/day' });
    expect(patched.status).toBe(200);
    const [update] = (await events({ action: 'client.update', target: 'limited' })).events;
    expect(update.details).toMatchObject({
      before: { token_limit: null },
      after: { token_limit: '20000/day' },
    });
    await tokenFor(sut.url, CLIENTS.operator);
    const [issued] = await eventually(
      { action: 'token.issue', actor: CLIENTS.operator.id, outcome: 'success' },
      (e) => e.length > 0,
    );
    expect(issued.details.token_type).toBe('access');
  });

  it('records revocations with the revoked jti as target', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      jti: string;
    };
    expect((await sut.http().delete(`/tokens/${jti}`).set(bearer(admin))).status).toBe(200);
    const [event] = (await events({ action: 'token.revoke', target: jti })).events;
    expect(event).toMatchObject({ outcome: 'success', actor: CLIENTS.admin.id });
    expect(JSON.stringify(event)).not.toContain(token);
  });

  it("records a client's revocation as token.revoke_client, with the reason given", async () => {
    const revoked = await sut
      .http()
      .post('/revoke')
      .set(bearer(admin))
      .set('X-Request-Id', 'revoke-client-reason')
      .send({ client_id: CLIENTS.viewer.id, reason: 'secret leaked in a ticket' });
    expect(revoked.status).toBe(200);
    const [event] = (await events({ request_id: 'revoke-client-reason' })).events;
    expect(event).toMatchObject({
      action: 'token.revoke_client',
      outcome: 'success',
      actor: CLIENTS.admin.id,
      target: CLIENTS.viewer.id,
      details: { reason: 'secret leaked in a ticket' },
    });
    const stored = await sut
      .http()
      .get('/admin/revocations')
      .query({ kind: 'client' })
      .set(bearer(admin));
    expect(JSON.stringify(stored.body)).toContain('secret leaked in a ticket');
  });

  it('records an RFC 7009 revocation with the revoking client as actor and the jti as target', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
      jti: string;
    };
    const revoked = await sut
      .http()
      .post('/oauth/revoke')
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ token });
    expect(revoked.status).toBe(200);
    const [event] = (await events({ action: 'token.revoke', target: jti })).events;
    expect(event).toMatchObject({
      outcome: 'success',
      actor: CLIENTS.operator.id,
      target: jti,
      details: {},
    });
    expect(JSON.stringify(event)).not.toContain(token);
  });

  it('records key rotations with their mode, as not automatic', async () => {
    await sut.http().post('/secrets/refresh').set(bearer(admin)).send({ mode: 'soft' });
    const [event] = (await events({ action: 'keys.rotate' })).events;
    expect(event).toMatchObject({
      outcome: 'success',
      actor: CLIENTS.admin.id,
      details: { mode: 'soft', automatic: false },
    });
    const hard = await sut
      .http()
      .post('/admin/keys/rotate')
      .set(bearer(admin))
      .send({ mode: 'hard' });
    expect(hard.status).toBe(200);
    admin = await tokenFor(sut.url, CLIENTS.admin); // a hard rotation ends every earlier token
    const [latest] = (await events({ action: 'keys.rotate' })).events;
    expect(latest).toMatchObject({
      outcome: 'success',
      target: (hard.body as { kid: string }).kid,
      details: { mode: 'hard', automatic: false },
    });
  });

  it('records login attempts, successful or not', async () => {
    const user = await sut.http().post('/admin/users').set(bearer(admin)).send({
      email: 'Audit.Person@example.com',
      name: 'Audit Person',
      password: 'correct horse battery',
    });
    expect(user.status).toBe(201);
    await sut
      .http()
      .post('/auth/login')
      .send({ email: 'audit.person@example.com', password: 'wrong password!' });
    await sut
      .http()
      .post('/auth/login')
      .send({ email: 'audit.person@example.com', password: 'correct horse battery' });
    const logins = await eventually(
      { action: 'user.login', target: 'audit.person@example.com' },
      (e) => e.length >= 2,
    );
    expect(logins.map((e) => e.outcome).sort()).toEqual(['failure', 'success']);
    expect(JSON.stringify(logins)).not.toContain('correct horse');
  });

  it('filters by action prefix and pages with a cursor, newest first', async () => {
    for (const id of ['page-1', 'page-2', 'page-3']) {
      await sut.http().post('/admin/clients').set(bearer(admin)).send({ id });
    }
    const first = await events({ action: 'client.*', limit: 2 });
    expect(first.events).toHaveLength(2);
    expect(first.events.map((e) => e.target)).toEqual(['page-3', 'page-2']);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await events({
      action: 'client.*',
      limit: 2,
      cursor: first.next_cursor as string,
    });
    expect(second.events[0].target).toBe('page-1');
    expect(Number(second.events[0].id)).toBeLessThan(Number(first.events[1].id));
  });

  it('finds the events of one request by its request id, in the listing and the export', async () => {
    const requestId = `audit-e2e-${Date.now()}`;
    await createClient(sut, admin, { id: 'by-request-id' }, { requestId });
    await createClient(sut, admin, { id: 'other-request' });

    const page = await events({ request_id: requestId });
    expect(page.events.map((e) => [e.action, e.target])).toEqual([
      ['client.create', 'by-request-id'],
    ]);
    const exported = await sut
      .http()
      .get('/admin/audit/export')
      .query({ request_id: requestId })
      .set(bearer(admin));
    expect(exported.status).toBe(200);
    const lines = exported.text.trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AuditEvent).target)).toEqual(['by-request-id']);
  });

  it('answers bad filters with a 400 naming the field', async () => {
    for (const [query, field] of [
      [{ cursor: 'nonsense!' }, 'cursor'],
      [{ since: 'yesterday' }, 'since'],
      [{ limit: 0 }, 'limit'],
      [{ outcome: 'maybe' }, 'outcome'],
      [{ request_id: 'x'.repeat(201) }, 'request_id'],
    ] as const) {
      const response = await sut.http().get('/admin/audit').query(query).set(bearer(admin));
      expect(response.status).toBe(400);
      expect(response.body.detail).toContain(field);
    }
  });

  it('refuses unknown or repeated parameters, impossible dates and bad limits, saying what is wrong', async () => {
    const refused = async (path: string, query: string) => {
      const response = await sut.http().get(`${path}?${query}`).set(bearer(admin));
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      return (response.body as { detail: string }).detail;
    };
    expect(await refused('/admin/audit', 'outcom=failure')).toContain(
      'unknown query parameter "outcom"',
    );
    for (const query of ['limit=10', 'cursor=abc', 'outcom=failure']) {
      expect(await refused('/admin/audit/export', query)).toMatch(/^unknown query parameter "/);
    }
    expect(await refused('/admin/audit', 'since=2026-02-30T00:00:00Z')).toBe(
      'since is not a real date and time: 2026-02-30T00:00:00Z',
    );
    expect(await refused('/admin/audit', 'until=2026-11-01T00:00:00')).toBe(
      'until must have an offset (Z or +01:00), such as 2026-11-01T00:00:00Z',
    );
    for (const since of ['0', '-1', 'yesterday']) {
      expect(await refused('/admin/audit/export', `since=${since}`)).toBe(
        'since must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z',
      );
    }
    // Only what the documentation promises: no hex, exponent, padding, leading zero or decimal point.
    for (const limit of ['abc', '0', '501', '1.5', '0x10', '1e2', '%2010', '010', '5.0', '+5']) {
      expect(await refused('/admin/audit', `limit=${limit}`)).toBe(
        'limit must be a whole number from 1 to 500',
      );
    }
    expect(await refused('/admin/audit', 'limit=1&limit=2')).toBe('limit must be given once');
    expect(await refused('/admin/revocations', 'limit=0x10')).toBe(
      'limit must be a whole number from 1 to 500',
    );
    expect(await refused('/admin/audit/verify', 'x=1')).toBe(
      'unknown query parameter "x" (this endpoint takes none)',
    );
    expect(await refused('/admin/audit', 'action=a&action=b')).toBe('action must be given once');
    // An empty value is not "no filter": ?actor= (an unset variable in a script) listed and
    // exported every event with a 200.
    for (const name of ['action', 'actor', 'target', 'request_id'])
      for (const path of ['/admin/audit', '/admin/audit/export'])
        expect(await refused(path, `${name}=`)).toBe(
          `${name} must not be empty: leave it out to match every event`,
        );

    // What is documented still works, on both.
    const documented =
      'action=client.*&actor=x&target=y&request_id=z&outcome=success&since=2026-11-01T00:00:00Z&until=2099-01-01';
    const listed = await sut.http().get(`/admin/audit?${documented}&limit=5`).set(bearer(admin));
    expect(listed.status).toBe(200);
    const exported = await sut.http().get(`/admin/audit/export?${documented}`).set(bearer(admin));
    expect(exported.status).toBe(200);
    const verified = await sut.http().get('/admin/audit/verify').set(bearer(admin));
    expect(verified.status).toBe(200);
  });

  it('needs audit:read', async () => {
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut.http().get('/admin/audit').set(bearer(operator));
    expect(response.status).toBe(403);
    expect(response.body.required).toEqual(['audit:read']);
  });
});
