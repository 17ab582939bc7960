import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

interface Listed {
  kind: string;
  value: string;
  revoked_before: string | null;
  expires_at: string;
}

describe('GET /admin/revocations', () => {
  let sut: TestApp;
  let admin: string;

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await sut.close();
  });

  const list = (query: Record<string, string | number> = {}) =>
    sut.http().get('/admin/revocations').query(query).set(bearer(admin));

  it('lists jti, subject and client revocations, newest first, filtered and paged', async () => {
    const victim = await tokenFor(sut.url, CLIENTS.operator);
    const { jti } = JSON.parse(Buffer.from(victim.split('.')[1], 'base64url').toString()) as {
      jti: string;
    };
    expect((await sut.http().delete(`/tokens/${jti}`).set(bearer(admin))).status).toBe(200);
    expect((await sut.http().delete('/users/someone-else/tokens').set(bearer(admin))).status).toBe(
      200,
    );

    const all = await list();
    expect(all.status).toBe(200);
    const rows = all.body.revocations as Listed[];
    expect(rows.map((r) => `${r.kind}:${r.value}`)).toEqual(
      expect.arrayContaining([`jti:${jti}`, 'subject:someone-else']),
    );
    const subject = rows.find((r) => r.kind === 'subject');
    expect(subject?.revoked_before).toEqual(expect.any(String));

    const jtis = await list({ kind: 'jti' });
    expect((jtis.body.revocations as Listed[]).every((r) => r.kind === 'jti')).toBe(true);

    const first = await list({ limit: 1 });
    expect(first.body.revocations).toHaveLength(1);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await list({ limit: 1, cursor: first.body.next_cursor });
    expect(second.body.revocations).toHaveLength(1);
    expect(second.body.revocations[0]).not.toEqual(first.body.revocations[0]);
  });

  it('answers bad filters with a 400 naming the field', async () => {
    for (const [query, field] of [
      [{ kind: 'everything' }, 'kind'],
      [{ cursor: 'garbage' }, 'cursor'],
      [{ limit: 0 }, 'limit'],
      // A typo is refused, not dropped (it would widen the listing).
      [{ knd: 'client' }, 'unknown query parameter "knd"'],
    ] as const) {
      const response = await list(query);
      expect(response.status).toBe(400);
      expect(response.body.detail).toContain(field);
    }
  });

  it('refuses a credential given as a jti: never stored, answered or audited', async () => {
    // The mistake is pasting the token (or a key) where its jti belongs. It used to be stored as
    // the jti — the whole credential at rest in revocations, in the answer and as the audit
    // event's target — while the credential itself stayed valid.
    const created = await sut
      .http()
      .post('/admin/api-keys')
      .set(bearer(admin))
      .send({ name: 'pasted-as-jti' });
    expect(created.status).toBe(201);
    const apiKey = created.body.key as string;
    const shortToken = [
      Buffer.from('{"alg":"HS256"}').toString('base64url'),
      Buffer.from('{"sub":"x"}').toString('base64url'),
      'c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMDEyMzQ1Njc4OQ',
    ].join('.');
    const refreshLike = 'rt_NotARealOneButShapedLikeOne0123456789abcdef';
    for (const credential of [apiKey, shortToken, refreshLike]) {
      for (const response of [
        await sut.http().post('/revoke').set(bearer(admin)).send({ jti: credential }),
        await sut.http().delete(`/tokens/${credential}`).set(bearer(admin)),
      ]) {
        expect(response.status).toBe(400);
        expect(response.body.code).toBe('validation_failed');
        expect(response.text).not.toContain(credential);
      }
    }
    // The key still works: nothing pretended to revoke it.
    expect(
      (await sut.http().post('/v1/infer').set('x-api-key', apiKey).send({ prompt: 'hi' })).status,
    ).toBe(200);
    const stored = JSON.stringify((await list({ kind: 'jti', limit: 100 })).body);
    const audited = await sut
      .http()
      .get('/admin/audit')
      .query({ action: 'token.revoke', limit: 100 })
      .set(bearer(admin));
    expect(audited.status).toBe(200);
    expect(audited.body.events.length).toBeGreaterThanOrEqual(6);
    for (const credential of [apiKey, shortToken, refreshLike]) {
      expect(stored).not.toContain(credential.slice(0, 20));
      expect(audited.text).not.toContain(credential.slice(0, 20));
    }
  });

  it('needs tokens:revoke', async () => {
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut.http().get('/admin/revocations').set(bearer(operator));
    expect(response.status).toBe(403);
    expect(response.body.required).toEqual(['tokens:revoke']);
  });
});
