import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

describe('built-in roles and @Authenticated', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  it('lets a viewer read metrics but not invoke the model', async () => {
    const viewer = await tokenFor(sut.url, CLIENTS.viewer);
    const metrics = await sut.http().get('/metrics').set(bearer(viewer));
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/tessera_tokens_issued_total\{grant="client_credentials"\} [1-9]/);
    const infer = await sut.http().post('/v1/infer').set(bearer(viewer)).send({ prompt: 'hi' });
    expect(infer.status).toBe(403);
    expect(infer.headers['content-type']).toContain('application/problem+json');
    expect(infer.body).toMatchObject({
      detail: 'Insufficient permissions',
      code: 'insufficient_permissions',
      required: ['invoke'],
    });
  });

  it('keeps an operator out of key rotation and client management', async () => {
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    for (const [method, path] of [
      ['post', '/secrets/refresh'],
      ['post', '/admin/keys/rotate'],
      ['get', '/admin/keys'],
      ['get', '/admin/clients'],
    ] as const) {
      const response = await sut.http()[method](path).set(bearer(operator)).send({});
      expect(response.status).toBe(403);
    }
  });

  it('lets an admin do everything', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    expect((await sut.http().get('/admin/keys').set(bearer(admin))).status).toBe(200);
    expect(
      (await sut.http().post('/v1/infer').set(bearer(admin)).send({ prompt: 'x' })).status,
    ).toBe(200);
  });
});
