import { bearer, CLIENTS, createApiKey, createRole, tokenFor } from './support/factories';
import { Replicas, startReplicas, startTestApp, TestApp } from './support/app';
import { policyFile, standardPolicy } from './support/policy';

async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('roles at run time (/admin/roles)', () => {
  const env = {
    AUTH_POLICY_FILE: policyFile(standardPolicy()),
    JWT_ISSUER: 'http://tessera.test',
  };
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;
  let admin: string;

  beforeAll(async () => {
    replicas = await startReplicas(2, { env });
    [first, second] = replicas.apps;
    admin = await tokenFor(first.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await replicas?.close();
  });

  it('seeds the roles of the policy file once (a second replica changes nothing)', async () => {
    const response = await second.http().get('/admin/roles').set(bearer(admin));
    expect(response.status).toBe(200);
    expect(response.body.map((r: { name: string }) => r.name)).toEqual([
      'admin',
      'operator',
      'viewer',
    ]);
    expect(response.body.find((r: { name: string }) => r.name === 'operator').permissions).toEqual([
      'invoke',
      'view_metrics',
    ]);
  });

  it('creates a role that API keys can hold at once, on every replica', async () => {
    await createRole(first, admin, { name: 'auditor', permissions: ['view_metrics', 'audit:*'] });
    const { key: apiKey } = await createApiKey(first, admin, {
      name: 'auditor-key',
      roles: ['auditor'],
    });
    expect(
      await eventually(
        async () => (await second.http().get('/metrics').set('X-API-Key', apiKey)).status === 200,
      ),
    ).toBe(true);

    // Taking the permission away reaches the other replica through NOTIFY.
    const updated = await first
      .http()
      .patch('/admin/roles/auditor')
      .set(bearer(admin))
      .send({ permissions: ['audit:read'] });
    expect(updated.status).toBe(200);
    expect(
      await eventually(
        async () => (await second.http().get('/metrics').set('X-API-Key', apiKey)).status === 403,
      ),
    ).toBe(true);

    expect((await first.http().delete('/admin/roles/auditor').set(bearer(admin))).status).toBe(204);
    expect((await first.http().get('/admin/roles/auditor').set(bearer(admin))).status).toBe(404);
  });

  it('creates roles with model globs (invoke:<glob>), as the policy file allows', async () => {
    for (const [name, glob, status] of [
      ['echo-models', 'invoke:tessera-*', 200],
      ['llama-models', 'invoke:meta-llama/Llama-3-*', 403],
    ] as const) {
      const created = await first
        .http()
        .post('/admin/roles')
        .set(bearer(admin))
        .send({ name, permissions: [glob] });
      expect(created.status).toBe(201);
      const { key } = await createApiKey(first, admin, { name: `${name}-key`, roles: [name] });
      const chat = async () =>
        (
          await second
            .http()
            .post('/v1/chat/completions')
            .set('X-API-Key', key)
            .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'hi' }] })
        ).status;
      expect(await eventually(async () => (await chat()) === status)).toBe(true);
    }
  });

  it('keeps run-time changes across a restart (the file only seeds missing roles)', async () => {
    await first
      .http()
      .patch('/admin/roles/viewer')
      .set(bearer(admin))
      .send({ permissions: ['view_metrics', 'keys:read'] });
    const third = await startTestApp({ env, database: first.database });
    try {
      const role = await third.http().get('/admin/roles/viewer').set(bearer(admin));
      expect(role.body.permissions).toEqual(['view_metrics', 'keys:read']);
    } finally {
      await third.close();
    }
  });

  it('answers bad input with a 400 naming the field, and conflicts with 409', async () => {
    const badName = await first
      .http()
      .post('/admin/roles')
      .set(bearer(admin))
      .send({ name: 'has space', permissions: [] });
    expect(badName.status).toBe(400);
    expect(badName.body.detail).toContain('name');
    const badPermission = await first
      .http()
      .post('/admin/roles')
      .set(bearer(admin))
      .send({ name: 'odd', permissions: ['bad permission'] });
    expect(badPermission.status).toBe(400);
    expect(badPermission.body.detail).toContain('permissions');
    const duplicate = await first
      .http()
      .post('/admin/roles')
      .set(bearer(admin))
      .send({ name: 'viewer', permissions: [] });
    expect(duplicate.status).toBe(409);
    const defaultRole = await first.http().delete('/admin/roles/operator').set(bearer(admin));
    expect(defaultRole.status).toBe(409);
  });

  it('needs roles:manage', async () => {
    const operator = await tokenFor(first.url, CLIENTS.operator);
    const response = await first.http().get('/admin/roles').set(bearer(operator));
    expect(response.status).toBe(403);
    expect(response.body.required).toEqual(['roles:manage']);
  });
});

describe('auth mode none (development only)', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({
      env: {
        AUTH_POLICY_FILE: policyFile(
          standardPolicy().replace('modes: [jwt, api_key]', 'modes: [none, jwt, api_key]'),
        ),
      },
    });
  });

  afterAll(async () => {
    await sut.close();
  });

  it('treats a request without credentials as the anonymous principal with the default role', async () => {
    const infer = await sut.http().post('/v1/infer').send({ prompt: 'hi' });
    expect(infer.status).toBe(200);
    expect(infer.body.sub).toBe('anonymous');
    const admin = await sut.http().get('/admin/keys');
    expect(admin.status).toBe(403);
  });

  it('still verifies credentials that are presented', async () => {
    const bad = await sut.http().post('/v1/infer').set(bearer('a.b.c')).send({ prompt: 'hi' });
    expect(bad.status).toBe(401);
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    expect((await sut.http().get('/admin/keys').set(bearer(admin))).status).toBe(200);
  });
});
