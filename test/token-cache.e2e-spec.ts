import { TokenService } from '../src/oauth/token.service';
import { VerifiedTokenCache } from '../src/auth/verified-token-cache';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/** The verified-token cache must never accept what verification would refuse. */
describe('verified-token cache', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  const models = (token: string) => sut.http().get('/v1/models').set(bearer(token));

  it('serves a reused token from the cache', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    expect((await models(token)).status).toBe(200);
    expect(sut.app.get(VerifiedTokenCache).get(token)).toBeDefined();
    expect((await models(token)).status).toBe(200);
  });

  it('skips the character scan only for the very string it verified', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    expect((await models(token)).status).toBe(200);
    expect(sut.app.get(VerifiedTokenCache).holds(token)).toBe(true);
    // The cached token with a character RFC 6750 does not allow, first in the signature or after
    // it, and two tokens in one header: each refused (the cache's key is the token's tail).
    const dot = token.lastIndexOf('.');
    for (const value of [
      `${token.slice(0, dot + 1)}!${token.slice(dot + 2)}`,
      `${token.slice(0, 10)} ${token.slice(11)}`,
      `${token} ${token}`,
    ]) {
      const refused = await sut.http().get('/v1/models').set('Authorization', `Bearer ${value}`);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('invalid_token');
    }
    expect((await models(token)).status).toBe(200);
  });

  it('refuses a cached token at once when its key is retired', async () => {
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const used = await sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'x' });
    expect(used.status).toBe(200);
    const rotated = await sut.http().post('/admin/keys/rotate').set(bearer(admin)).send({});
    expect(rotated.status).toBe(200);
    expect((await models(token)).status).toBe(200); // retiring keys still verify
    const adminAfter = await tokenFor(sut.url, CLIENTS.admin);
    const retired = await sut
      .http()
      .post(`/admin/keys/${used.body.kid as string}/retire`)
      .set(bearer(adminAfter));
    expect(retired.status).toBe(200);
    const refused = await models(token);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe('Invalid authentication credentials');
  });

  it('refuses a cached token once it has expired', async () => {
    const { token, exp } = sut.app.get(TokenService).mint({
      subject: CLIENTS.operator.id,
      clientId: CLIENTS.operator.id,
      roles: ['operator'],
      scopes: ['model:invoke'],
      // Two seconds: `iat` is whole seconds, so a one-second token minted late in a second can
      // already be expired by its first request.
      expiresIn: 2,
    });
    expect((await models(token)).status).toBe(200);
    while (Date.now() < exp * 1000 + 50) await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await models(token);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe('Token has expired');
  });
});
