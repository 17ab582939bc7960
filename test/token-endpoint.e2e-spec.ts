import { decode } from 'jsonwebtoken';
import { Client } from 'pg';
import { CLIENTS } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/** RFC 6749 token endpoint behaviour: client authentication, grants, scopes and error form. */
describe('token endpoint', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  const token = () => sut.http().post('/oauth/token');

  it('issues an RFC 9068 access token for client_secret_basic with a form body', async () => {
    const response = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'model:invoke sync:write',
    });
    const decoded = decode(response.body.access_token, { complete: true });
    expect(decoded?.header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(typeof decoded?.header.kid).toBe('string');
    const claims = decoded?.payload as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: sut.url,
      sub: CLIENTS.operator.id,
      aud: 'tessera',
      client_id: CLIENTS.operator.id,
      scope: 'model:invoke sync:write',
      roles: ['operator'],
      token_type: 'access',
    });
    for (const claim of ['exp', 'iat', 'nbf']) expect(typeof claims[claim]).toBe('number');
    expect(claims.exp).toBe((claims.iat as number) + 900);
    expect(typeof claims.jti).toBe('string');
  });

  it('accepts client_secret_post in a JSON body', async () => {
    const response = await token().send({
      grant_type: 'client_credentials',
      client_id: CLIENTS.operator.id,
      client_secret: CLIENTS.operator.secret,
    });
    expect(response.status).toBe(200);
  });

  it('accepts client_secret_post in a form body', async () => {
    const response = await token().type('form').send({
      grant_type: 'client_credentials',
      client_id: CLIENTS.operator.id,
      client_secret: CLIENTS.operator.secret,
    });
    expect(response.status).toBe(200);
  });

  it('decodes form-urlencoded Basic credentials (RFC 6749 §2.3.1)', async () => {
    const response = await token()
      .set(
        'Authorization',
        'Basic ' +
          Buffer.from(
            `${encodeURIComponent(CLIENTS.operator.id)}:${encodeURIComponent(CLIENTS.operator.secret)}`,
          ).toString('base64'),
      )
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(200);
  });

  it('grants a requested subset of the allowed scopes', async () => {
    const response = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'sync:write' });
    expect(response.status).toBe(200);
    expect(response.body.scope).toBe('sync:write');
  });

  it('answers invalid_scope for a scope outside the client’s allowed scopes', async () => {
    const response = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'model:invoke admin:everything' });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_scope');
    expect(response.body.error_description).toContain('admin:everything');
  });

  it.each([
    ['a wrong secret', CLIENTS.operator.id, 'wrong-secret'],
    ['an unknown client', 'nobody', 'whatever'],
  ])('answers invalid_client with 401 and a Basic challenge for %s', async (_name, id, secret) => {
    const response = await token()
      .auth(id, secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Basic/);
    expect(response.body).toEqual({
      error: 'invalid_client',
      error_description: 'Client authentication failed',
    });
  });

  it('answers invalid_client when no client authentication is given', async () => {
    const response = await token().type('form').send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
  });

  it('answers invalid_request when both Basic and post credentials are used', async () => {
    const response = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({
        grant_type: 'client_credentials',
        client_id: CLIENTS.operator.id,
        client_secret: CLIENTS.operator.secret,
      });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  it('answers invalid_request without grant_type and unsupported_grant_type for an unknown one', async () => {
    const missing = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
    const unknown = await token()
      .auth(CLIENTS.operator.id, CLIENTS.operator.secret)
      .type('form')
      .send({ grant_type: 'urn:example:magic' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('unsupported_grant_type');
  });

  it('answers invalid_request when a field is not a string', async () => {
    const response = await token().send({ grant_type: ['client_credentials'] });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  it('serves the prototype’s JSON /token endpoint', async () => {
    const ok = await sut.http().post('/token').send({
      client_id: CLIENTS.operator.id,
      client_secret: CLIENTS.operator.secret,
      scope: 'model:invoke',
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', scope: 'model:invoke' });
    const bad = await sut.http().post('/token').send({ client_id: CLIENTS.operator.id });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
  });

  it('lets an admin create a client whose secret is shown once and works at once', async () => {
    const admin = await token()
      .auth(CLIENTS.admin.id, CLIENTS.admin.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    const auth = { Authorization: `Bearer ${admin.body.access_token}` };
    const created = await sut
      .http()
      .post('/admin/clients')
      .set(auth)
      .send({ id: 'svc-new', scopes: ['model:invoke'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'svc-new',
      roles: ['operator'],
      scopes: ['model:invoke'],
    });
    const secret = created.body.client_secret as string;
    expect(secret.length).toBeGreaterThanOrEqual(43);
    const listed = await sut.http().get('/admin/clients').set(auth);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const issued = await token()
      .auth('svc-new', secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(issued.status).toBe(200);
    const duplicate = await sut.http().post('/admin/clients').set(auth).send({ id: 'svc-new' });
    expect(duplicate.status).toBe(409);
    const badRole = await sut
      .http()
      .post('/admin/clients')
      .set(auth)
      .send({ roles: ['emperor'] });
    expect(badRole.status).toBe(400);
    expect(badRole.body.detail).toContain('emperor');
  });

  it('stores client secrets only as digests', async () => {
    const db = new Client({ connectionString: sut.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT id, secret_digest FROM clients');
      expect(rows.length).toBeGreaterThan(0);
      // Keyed with the server-side pepper (HMAC-SHA-256), never the bare SHA-256 a dump could test.
      for (const row of rows) expect(row.secret_digest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      expect(JSON.stringify(rows)).not.toContain(CLIENTS.operator.secret);
    } finally {
      await db.end();
    }
  });
});
