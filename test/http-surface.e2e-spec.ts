import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

describe('HTTP surface: health, discovery, docs and problem+json errors', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  it('answers liveness at /health and /health/', async () => {
    for (const path of ['/health', '/health/']) {
      const response = await sut.http().get(path);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'ok' });
    }
  });

  it('reports ready when the database answers and keys are loaded', async () => {
    const response = await sut.http().get('/health/ready');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('ok');
    expect(response.body.details).toMatchObject({
      database: { status: 'up' },
      keys: { status: 'up' },
    });
  });

  it('publishes OIDC discovery metadata that points at its own endpoints', async () => {
    const response = await sut.http().get('/.well-known/openid-configuration');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      issuer: sut.url,
      jwks_uri: `${sut.url}/.well-known/jwks.json`,
      token_endpoint: `${sut.url}/oauth/token`,
      grant_types_supported: expect.arrayContaining(['client_credentials']),
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('serves the OpenAPI document with the bearer scheme, and Swagger UI', async () => {
    const doc = await sut.http().get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(doc.body.paths['/v1/infer'].post.security).toEqual([{ bearer: [] }, { api_key: [] }]);
    expect(doc.body.components.securitySchemes.api_key).toMatchObject({
      in: 'header',
      name: 'X-API-Key',
    });
    const ui = await sut.http().get('/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('answers an unknown route with a problem+json 404', async () => {
    const response = await sut.http().get('/no/such/route');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('answers malformed JSON with a 400 problem, never a 500', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut
      .http()
      .post('/v1/infer')
      .set(bearer(token))
      .set('Content-Type', 'application/json')
      .send('{"prompt": ');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body.detail).toMatch(/JSON/);
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.js/);
  });

  it('answers an unsupported media type with a 4xx problem', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut
      .http()
      .post('/v1/infer')
      .set(bearer(token))
      .set('Content-Type', 'text/xml')
      .send('<a/>');
    expect(response.status).toBe(415);
    expect(response.headers['content-type']).toContain('application/problem+json');
  });

  it('refuses an admin body field the endpoint does not declare, naming it, and changes nothing', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const created = await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({ id: 'svc-unknown-field', grant_types: ['password'] });
    expect(created.status).toBe(400);
    expect(created.headers['content-type']).toContain('application/problem+json');
    expect(created.body).toMatchObject({
      code: 'validation_failed',
      detail: 'unknown field "grant_types" (did you mean grantTypes?)',
    });
    expect(
      (await sut.http().get('/admin/clients/svc-unknown-field').set(bearer(admin))).status,
    ).toBe(404);
    const keysBefore = (await sut.http().get('/admin/keys').set(bearer(admin))).body;
    const rotated = await sut
      .http()
      .post('/admin/keys/rotate')
      .set(bearer(admin))
      .send({ mode: 'soft', x: 1 });
    expect(rotated.status).toBe(400);
    expect(rotated.body.detail).toBe('unknown field "x"');
    expect((await sut.http().get('/admin/keys').set(bearer(admin))).body).toEqual(keysBefore);
    // A list given as a string says so (it said "roles must contain no more than 50 elements").
    const roles = await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({ id: 'svc-roles-string', roles: 'admin' });
    expect(roles.status).toBe(400);
    expect(roles.body.detail).toBe('roles must be an array of strings');
    // The documented fields still work.
    const good = await sut
      .http()
      .post('/admin/clients')
      .set(bearer(admin))
      .send({
        id: 'svc-known-fields',
        grantTypes: ['client_credentials'],
        rate_limit: '10/minute',
      });
    expect(good.status).toBe(201);
  });

  it('serves the chat completions and models of the built-in echo model', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const models = await sut.http().get('/v1/models').set(bearer(token));
    expect(models.body.data[0].id).toBe('tessera-echo');
    const chat = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'Hello there' }] });
    expect(chat.status).toBe(200);
    expect(chat.body.choices[0].message).toEqual({ role: 'assistant', content: 'Hello there' });
    const stream = await sut
      .http()
      .post('/v1/chat/completions')
      .set(bearer(token))
      .send({
        model: 'tessera-echo',
        stream: true,
        messages: [{ role: 'user', content: 'Hello there' }],
      });
    expect(stream.headers['content-type']).toContain('text/event-stream');
    expect(stream.text.trim().endsWith('data: [DONE]')).toBe(true);
  });
});
