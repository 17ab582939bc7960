import { bearer, CLIENTS, createClient, createUser, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/** A person's refresh token (from /auth/login) through the refresh_token grant. */
describe('refreshing a login', () => {
  let sut: TestApp;
  let admin: string;

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
  });

  afterAll(async () => {
    await sut.close();
  });

  async function login(email: string) {
    const created = await createUser(sut, admin, { email, name: 'Refresher' });
    const response = await sut
      .http()
      .post('/auth/login')
      .send({ email, password: 'a long enough password' });
    expect(response.status).toBe(200);
    return { oid: created.oid, refresh: response.body.refresh_token as string };
  }

  const refresh = (token: string) =>
    sut
      .http()
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: token });

  it('rotates without client authentication, and a reused token burns the family', async () => {
    const { refresh: first } = await login('rotate@example.com');
    const rotated = await refresh(first);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).toMatch(/^rt_/);
    expect(rotated.body.refresh_token).not.toBe(first);
    const verify = await sut.http().get('/auth/verify').set(bearer(rotated.body.access_token));
    expect(verify.body).toMatchObject({ email: 'rotate@example.com' });

    const reused = await refresh(first);
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    // The newer token of the same family is gone too.
    expect((await refresh(rotated.body.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('refuses to refresh for a disabled user', async () => {
    const { oid, refresh: token } = await login('disabled@example.com');
    const disabled = await sut
      .http()
      .patch(`/admin/users/${oid}`)
      .set(bearer(admin))
      .send({ disabled: true });
    expect(disabled.status).toBe(200);
    const response = await refresh(token);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_grant');
  });

  it('gives the refreshed token the user’s current roles', async () => {
    const { oid, refresh: token } = await login('promoted@example.com');
    await sut
      .http()
      .patch(`/admin/users/${oid}`)
      .set(bearer(admin))
      .send({ roles: ['viewer'] });
    const response = await refresh(token);
    expect(response.status).toBe(200);
    const infer = await sut
      .http()
      .post('/v1/infer')
      .set(bearer(response.body.access_token))
      .send({ prompt: 'x' });
    expect(infer.status).toBe(403);
  });

  it('needs the client’s authentication for a token issued to a client', async () => {
    const { secret } = await createClient(sut, admin, {
      id: 'password-client',
      grantTypes: ['password', 'refresh_token'],
    });
    await createUser(sut, admin, { email: 'bound@example.com' });
    const granted = await sut
      .http()
      .post('/oauth/token')
      .auth('password-client', secret)
      .type('form')
      .send({
        grant_type: 'password',
        username: 'bound@example.com',
        password: 'a long enough password',
      });
    expect(granted.status).toBe(200);
    const anonymous = await refresh(granted.body.refresh_token);
    expect(anonymous.body.error).toBe('invalid_grant');
    const authenticated = await sut
      .http()
      .post('/oauth/token')
      .auth('password-client', secret)
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: granted.body.refresh_token });
    expect(authenticated.status).toBe(200);
  });
});
