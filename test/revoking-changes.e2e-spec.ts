import { Client } from 'pg';
import { startTestApp, TestApp } from './support/app';
import { bearer, CLIENTS, createClient, createUser, tokenFor } from './support/factories';

/**
 * Disabling or deleting a user and revoking its tokens are one transaction. They were two: when
 * the revocation failed (here: the revocations table locked past the query timeout, as a crash or
 * a database blip between the two would do), the user stayed disabled — or deleted — with its
 * tokens working, and the admin's retry revoked nothing (the user was already disabled: 200; or
 * already gone: 404).
 */
describe('User and client disable and delete: the change and the revocation commit together', () => {
  let app: TestApp;
  let admin: string;
  let pg: Client;

  beforeAll(async () => {
    app = await startTestApp();
    admin = await tokenFor(app.url, CLIENTS.admin);
    pg = new Client({ connectionString: app.databaseUrl });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await app?.close();
  });

  async function login(email: string, password: string): Promise<string> {
    const response = await app.http().post('/auth/login').send({ email, password });
    expect(response.status).toBe(200);
    return response.body.access_token as string;
  }

  const verify = (token: string) => app.http().get('/auth/verify').set(bearer(token));

  /** Runs `request` while another session holds the revocations table locked. */
  async function withRevocationsLocked<T>(request: () => Promise<T>): Promise<T> {
    await pg.query('BEGIN');
    await pg.query('LOCK TABLE revocations IN EXCLUSIVE MODE');
    try {
      return await request();
    } finally {
      await pg.query('ROLLBACK');
    }
  }

  it('a disable whose revocation failed changed nothing, and the retry revokes', async () => {
    const user = await createUser(app, admin);
    const token = await login(user.email, user.password);
    expect((await verify(token)).status).toBe(200);

    const refused = await withRevocationsLocked(() =>
      app.http().patch(`/admin/users/${user.oid}`).set(bearer(admin)).send({ disabled: true }),
    );
    expect(refused.status).toBe(503);
    // Nothing was committed: the user is not disabled (the admin was told it failed).
    const shown = await app.http().get(`/admin/users/${user.oid}`).set(bearer(admin));
    expect(shown.body.disabled).toBe(false);

    const retried = await app
      .http()
      .patch(`/admin/users/${user.oid}`)
      .set(bearer(admin))
      .send({ disabled: true });
    expect(retried.status).toBe(200);
    expect(retried.body.disabled).toBe(true);
    const after = await verify(token);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('revoked_token');
    const rows = await pg.query(
      "SELECT reason FROM revocations WHERE kind = 'subject' AND value = $1",
      [user.oid],
    );
    expect(rows.rows).toEqual([{ reason: 'user disabled' }]);
  });

  it('a delete whose revocation failed deleted nothing, and the retry revokes', async () => {
    const user = await createUser(app, admin);
    const token = await login(user.email, user.password);

    const refused = await withRevocationsLocked(() =>
      app.http().delete(`/admin/users/${user.oid}`).set(bearer(admin)),
    );
    expect(refused.status).toBe(503);
    expect((await app.http().get(`/admin/users/${user.oid}`).set(bearer(admin))).status).toBe(200);

    const retried = await app.http().delete(`/admin/users/${user.oid}`).set(bearer(admin));
    expect(retried.status).toBeLessThan(300);
    expect((await verify(token)).status).toBe(401);
    expect((await app.http().get(`/admin/users/${user.oid}`).set(bearer(admin))).status).toBe(404);
  });

  // The same for clients: a deleted client whose revocation failed kept its tokens working, and
  // the retry found no client (404) and revoked nothing.
  it('a client disable or delete whose revocation failed changed nothing, and the retry revokes', async () => {
    for (const change of ['disable', 'delete'] as const) {
      const client = await createClient(app, admin, { roles: ['operator'] });
      const token = await tokenFor(app.url, client);
      expect((await verify(token)).status).toBe(200);
      const send = () =>
        change === 'disable'
          ? app
              .http()
              .patch(`/admin/clients/${client.id}`)
              .set(bearer(admin))
              .send({ disabled: true })
          : app.http().delete(`/admin/clients/${client.id}`).set(bearer(admin));

      expect((await withRevocationsLocked(send)).status).toBe(503);
      const shown = await app.http().get(`/admin/clients/${client.id}`).set(bearer(admin));
      expect(shown.status).toBe(200);
      expect(shown.body.disabled).toBe(false);
      expect((await verify(token)).status).toBe(200); // nothing was committed

      expect((await send()).status).toBeLessThan(300);
      const after = await verify(token);
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('revoked_token');
      const rows = await pg.query(
        "SELECT reason FROM revocations WHERE kind = 'client' AND value = $1",
        [client.id],
      );
      expect(rows.rows).toEqual([
        { reason: change === 'disable' ? 'client disabled' : 'client deleted' },
      ]);
    }
  });

  it('a password change still ends the sessions, and an unknown user is still a 404', async () => {
    const user = await createUser(app, admin);
    const token = await login(user.email, user.password);
    const changed = await app
      .http()
      .patch(`/admin/users/${user.oid}`)
      .set(bearer(admin))
      .send({ password: 'another long password' });
    expect(changed.status).toBe(200);
    expect((await verify(token)).status).toBe(401);
    await login(user.email, 'another long password');
    const missing = await app
      .http()
      .delete('/admin/users/00000000-0000-4000-8000-000000000000')
      .set(bearer(admin));
    expect(missing.status).toBe(404);
  });
});
