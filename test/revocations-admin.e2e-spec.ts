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

  it('needs tokens:revoke', async () => {
    const operator = await tokenFor(sut.url, CLIENTS.operator);
    const response = await sut.http().get('/admin/revocations').set(bearer(operator));
    expect(response.status).toBe(403);
    expect(response.body.required).toEqual(['tokens:revoke']);
  });
});
