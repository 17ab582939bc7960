import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { Replicas, startReplicas, startTestApp, TestApp } from './support/app';
import { policyFile, standardPolicy } from './support/policy';

const ENV_KEY = 'env-key-for-tests-0123456789abcdef';

describe('API keys', () => {
  let first: TestApp;
  let replicas: Replicas;
  let second: TestApp;
  let admin: string;
  const env = {
    AUTH_POLICY_FILE: policyFile(
      standardPolicy(`  api_keys:
    header: X-API-Key
    env_prefix: TEST_AGENT_KEY_
    env_roles: [viewer]
`),
    ),
    TEST_AGENT_KEY_PROD: ENV_KEY,
    // Replicas share one issuer (and passport's strategy registry is per process).
    JWT_ISSUER: 'http://tessera.test',
  };

  beforeAll(async () => {
    replicas = await startReplicas(2, { env });
    [first, second] = replicas.apps;
    admin = await tokenFor(first.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await replicas?.close();
  });

  const createKey = async (body: Record<string, unknown>) => {
    const response = await first.http().post('/admin/api-keys').set(bearer(admin)).send(body);
    expect(response.status).toBe(201);
    return response.body as { id: string; key: string; prefix: string; roles: string[] };
  };

  it('creates a key shown once, with a visible prefix, listed without the secret', async () => {
    const created = await createKey({ name: 'agent-a', roles: ['operator'] });
    expect(created.key).toMatch(/^tsk_live_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    const list = await first.http().get('/admin/api-keys').set(bearer(admin));
    expect(list.status).toBe(200);
    const listed = list.body.find((k: { id: string }) => k.id === created.id);
    expect(listed).toMatchObject({ name: 'agent-a', prefix: created.prefix, roles: ['operator'] });
    expect(JSON.stringify(list.body)).not.toContain(created.key);
  });

  it('accepts a key in X-API-Key and in Authorization: Bearer, as a principal like any other', async () => {
    const { id, key } = await createKey({ name: 'agent-b', roles: ['operator'] });
    const viaHeader = await first
      .http()
      .post('/v1/infer')
      .set('X-API-Key', key)
      .send({ prompt: 'hi' });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toMatchObject({ ok: true, prompt: 'hi', sub: id });
    const viaBearer = await second.http().post('/v1/infer').set(bearer(key)).send({ prompt: 'hi' });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body.sub).toBe(id);
  });

  it('gives a key the permissions of its roles, and the default role when none is given', async () => {
    const viewer = await createKey({ name: 'viewer-key', roles: ['viewer'] });
    const refused = await first
      .http()
      .post('/v1/infer')
      .set('X-API-Key', viewer.key)
      .send({ prompt: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      detail: 'Insufficient permissions',
      required: ['invoke'],
    });
    expect((await first.http().get('/metrics').set('X-API-Key', viewer.key)).status).toBe(200);
    const defaulted = await createKey({ name: 'no-roles' });
    expect(defaulted.roles).toEqual(['operator']);
  });

  it('rejects an unknown key with 401 Invalid authentication credentials', async () => {
    const response = await first
      .http()
      .post('/v1/infer')
      .set('X-API-Key', 'tsk_live_' + 'x'.repeat(43))
      .send({ prompt: 'x' });
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('refuses an unknown role with a 400 naming it', async () => {
    const response = await first
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'bad', roles: ['wizard'] });
    expect(response.status).toBe(400);
    expect(response.body.detail).toContain('wizard');
  });

  it('revokes a key on every replica at once', async () => {
    const { id, key } = await createKey({ name: 'to-revoke', roles: ['operator'] });
    expect((await second.http().get('/v1/models').set('X-API-Key', key)).status).toBe(200);
    const revoked = await first.http().delete(`/admin/api-keys/${id}`).set(bearer(admin));
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expect((await first.http().get('/v1/models').set('X-API-Key', key)).status).toBe(401);
    // The other replica learns it through NOTIFY; poll briefly for the notification to land.
    let status = 0;
    for (let i = 0; i < 50; i++) {
      status = (await second.http().get('/v1/models').set('X-API-Key', key)).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });

  it('records the last-used time without a write per request', async () => {
    const { id, key } = await createKey({ name: 'used', roles: ['operator'] });
    await first.http().get('/v1/models').set('X-API-Key', key);
    const list = await first.http().get('/admin/api-keys').set(bearer(admin));
    const listed = list.body.find((k: { id: string }) => k.id === id);
    expect(listed.lastUsedAt).toEqual(expect.any(String));
  });

  it('loads keys from the environment by the policy prefix, with env_roles', async () => {
    const metrics = await first.http().get('/metrics').set('X-API-Key', ENV_KEY);
    expect(metrics.status).toBe(200);
    const infer = await first.http().post('/v1/infer').set(bearer(ENV_KEY)).send({ prompt: 'x' });
    expect(infer.status).toBe(403);
    const list = await first.http().get('/admin/api-keys').set(bearer(admin));
    expect(list.body).toContainEqual(
      expect.objectContaining({ id: 'env:PROD', source: 'environment', roles: ['viewer'] }),
    );
    expect(JSON.stringify(list.body)).not.toContain(ENV_KEY);
  });

  it('creates a key from the CLI that the running replicas accept at once', async () => {
    // The CLI from source (ts-node), so a stale dist/ cannot hide a change.
    // Asynchronously: the two replicas run in this process, and a blocked event loop would hold
    // whatever lock their audit writer has taken while the CLI waits for it.
    const cli = await promisify(execFile)(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        join(__dirname, '..', 'src', 'cli', 'main.ts'),
        'api-keys',
        'create',
        '--name',
        'from-cli',
        '--roles',
        'operator',
      ],
      {
        cwd: join(__dirname, '..'),
        env: { ...process.env, DATABASE_URL: first.databaseUrl, LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(cli.stderr).toBe('');
    const key = /key:\s+(tsk_live_\S+)/.exec(cli.stdout)?.[1] as string;
    expect(key).toBeDefined();
    let status = 0;
    for (let i = 0; i < 50; i++) {
      status = (await second.http().get('/v1/models').set('X-API-Key', key)).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(200);
  }, 150_000);
});

describe('policy modes', () => {
  const onlyMode = (mode: string) =>
    policyFile(standardPolicy().replace('modes: [jwt, api_key]', `modes: [${mode}]`));

  it('ignores API keys when the api_key mode is off', async () => {
    const sut = await startTestApp({ env: { AUTH_POLICY_FILE: onlyMode('jwt') } });
    try {
      const admin = await tokenFor(sut.url, CLIENTS.admin);
      const created = await sut
        .http()
        .post('/admin/api-keys')
        .set(bearer(admin))
        .send({ name: 'unused', roles: ['operator'] });
      const response = await sut.http().get('/v1/models').set('X-API-Key', created.body.key);
      expect(response.status).toBe(401);
      expect(response.body.detail).toBe('Not authenticated');
    } finally {
      await sut.close();
    }
  });

  it('refuses bearer JWTs when the jwt mode is off, and still takes API keys', async () => {
    const sut = await startTestApp({
      env: {
        AUTH_POLICY_FILE: policyFile(
          standardPolicy(`  api_keys:
    env_prefix: MODE_TEST_KEY_
    env_roles: [operator]
`).replace('modes: [jwt, api_key]', 'modes: [api_key]'),
        ),
        MODE_TEST_KEY_ONE: ENV_KEY,
      },
    });
    try {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      const refused = await sut.http().get('/v1/models').set(bearer(token));
      expect(refused.status).toBe(401);
      expect((await sut.http().get('/v1/models').set(bearer(ENV_KEY))).status).toBe(200);
    } finally {
      await sut.close();
    }
  });
});
