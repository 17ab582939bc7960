import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/** The README's curl walk-through, step by step, over real HTTP against a real PostgreSQL. */
describe('README walk-through: token → infer → soft rotation → hard rotation', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  const infer = (token: string, prompt = 'Hello from Tessera') =>
    sut.http().post('/v1/infer').set(bearer(token)).send({ prompt });

  it('runs the whole flow', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const first = await tokenFor(sut.url, CLIENTS.operator);

    const ok = await infer(first);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      ok: true,
      prompt: 'Hello from Tessera',
      sub: CLIENTS.operator.id,
      scope: 'model:invoke sync:write',
    });
    expect(typeof ok.body.jti).toBe('string');
    expect(typeof ok.body.exp).toBe('number');
    const firstKid = ok.body.kid as string;
    const jwks1 = await sut.http().get('/.well-known/jwks.json');
    // The signing key first, then the next one, published ahead of its first use.
    const kids1 = jwks1.body.keys.map((k: { kid: string }) => k.kid) as string[];
    expect(kids1).toHaveLength(2);
    expect(kids1[0]).toBe(firstKid);
    const nextKid = kids1[1];

    const soft = await sut
      .http()
      .post('/secrets/refresh')
      .set(bearer(admin))
      .send({ mode: 'soft' });
    expect(soft.status).toBe(200);
    // The new signing key is the one verifiers have already fetched.
    expect(soft.body.kid).toBe(nextKid);

    // The old token keeps working: its key is retiring, still published and still verifying.
    expect((await infer(first)).status).toBe(200);
    const jwks2 = await sut.http().get('/jwks.json');
    const kids2 = jwks2.body.keys.map((k: { kid: string }) => k.kid) as string[];
    expect(kids2).toHaveLength(3); // active, a new next, the retiring first key
    expect(kids2[0]).toBe(soft.body.kid);
    expect(kids2).toContain(firstKid);

    const second = await tokenFor(sut.url, CLIENTS.operator);
    const afterSoft = await infer(second);
    expect(afterSoft.status).toBe(200);
    expect(afterSoft.body.kid).toBe(soft.body.kid);

    const hard = await sut
      .http()
      .post('/secrets/refresh')
      .set(bearer(admin))
      .send({ mode: 'hard' });
    expect(hard.status).toBe(200);

    for (const old of [first, second, admin]) {
      const rejected = await infer(old);
      expect(rejected.status).toBe(401);
      expect(rejected.body.detail).toBe('Invalid authentication credentials');
    }
    const jwks3 = await sut.http().get('/.well-known/jwks.json');
    const kids3 = jwks3.body.keys.map((k: { kid: string }) => k.kid) as string[];
    expect(kids3).toHaveLength(2); // everything older is gone: a fresh active and next
    expect(kids3[0]).toBe(hard.body.kid);
    expect(kids3).not.toContain(firstKid);
    expect(kids3).not.toContain(soft.body.kid);

    const fresh = await tokenFor(sut.url, CLIENTS.operator);
    const final = await infer(fresh);
    expect(final.status).toBe(200);
    expect(final.body.kid).toBe(hard.body.kid);

    // The README then gets a new $ADMIN (the old one died with its key) for the later sections.
    const newAdmin = await tokenFor(sut.url, CLIENTS.admin);
    const listed = await sut.http().get('/admin/clients').set(bearer(newAdmin));
    expect(listed.status).toBe(200);
  });

  it('answers 400 naming the field for an empty or missing prompt', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    for (const body of [{}, { prompt: '' }, { prompt: 42 }]) {
      const response = await sut.http().post('/v1/infer').set(bearer(token)).send(body);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.body.detail).toMatch(/prompt/);
    }
  });

  it('publishes public members only, with a cache lifetime', async () => {
    const response = await sut.http().get('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toMatch(/max-age=\d+/);
    for (const key of response.body.keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(typeof key.kid).toBe('string');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi'])
        expect(key).not.toHaveProperty(secret);
    }
  });
});
