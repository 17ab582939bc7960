import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { Issuer } from 'openid-client';
import { bearer, CLIENTS, TestClient } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/**
 * Third-party clients, unmodified: openid-client discovers Tessera and runs the
 * client-credentials grant; jose verifies the tokens against the published JWKS.
 */
describe('interoperability with openid-client and jose', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp();
  });

  afterAll(async () => {
    await sut.close();
  });

  async function clientFor(
    auth: 'client_secret_basic' | 'client_secret_post',
    client: TestClient = CLIENTS.operator,
  ) {
    const issuer = await Issuer.discover(sut.url);
    return new issuer.Client({
      client_id: client.id,
      client_secret: client.secret,
      token_endpoint_auth_method: auth,
    });
  }

  it.each(['client_secret_basic', 'client_secret_post'] as const)(
    'openid-client discovers the issuer and gets a token with %s',
    async (method) => {
      const client = await clientFor(method);
      const tokens = await client.grant({
        grant_type: 'client_credentials',
        scope: 'model:invoke',
      });
      expect(tokens.token_type?.toLowerCase()).toBe('bearer');
      expect(tokens.scope).toBe('model:invoke');
      const response = await sut
        .http()
        .post('/v1/infer')
        .set(bearer(tokens.access_token as string))
        .send({ prompt: 'hi' });
      expect(response.status).toBe(200);
    },
  );

  it('openid-client surfaces RFC 6749 errors', async () => {
    const issuer = await Issuer.discover(sut.url);
    const client = new issuer.Client({ client_id: CLIENTS.operator.id, client_secret: 'wrong' });
    await expect(client.grant({ grant_type: 'client_credentials' })).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });

  it('jose verifies issued tokens through the remote JWKS, across a soft rotation', async () => {
    const client = await clientFor('client_secret_basic');
    // jose's defaults: it refetches a JWKS on an unknown kid at most once per 30 s. The key a
    // soft rotation activates was already published, so the cached set verifies it at once.
    const jwks = createRemoteJWKSet(new URL(`${sut.url}/.well-known/jwks.json`));
    const verify = (token: string) =>
      jwtVerify(token, jwks, {
        issuer: sut.url,
        audience: 'tessera',
        algorithms: ['RS256'],
        typ: 'at+jwt',
      });

    const before = (await client.grant({ grant_type: 'client_credentials' }))
      .access_token as string;
    const { payload } = await verify(before);
    expect(payload).toMatchObject({
      sub: CLIENTS.operator.id,
      client_id: CLIENTS.operator.id,
      token_type: 'access',
    });

    const admin = await (
      await clientFor('client_secret_basic', CLIENTS.admin)
    ).grant({ grant_type: 'client_credentials' });
    const rotated = await sut
      .http()
      .post('/secrets/refresh')
      .set(bearer(admin.access_token as string))
      .send({ mode: 'soft' });
    expect(rotated.status).toBe(200);

    const after = (await client.grant({ grant_type: 'client_credentials' })).access_token as string;
    expect(decodeProtectedHeader(after).kid).toBe(rotated.body.kid);
    // No refetch needed (the cooldown would forbid one): the new kid is in the cached set.
    await expect(verify(after)).resolves.toBeDefined();
    await expect(verify(before)).resolves.toBeDefined();
  });

  it('jose rejects a token once its key is retired by a hard rotation', async () => {
    const client = await clientFor('client_secret_basic');
    const token = (await client.grant({ grant_type: 'client_credentials' })).access_token as string;
    const admin = await (
      await clientFor('client_secret_basic', CLIENTS.admin)
    ).grant({ grant_type: 'client_credentials' });
    await sut
      .http()
      .post('/secrets/refresh')
      .set(bearer(admin.access_token as string))
      .send({ mode: 'hard' });
    const fresh = createRemoteJWKSet(new URL(`${sut.url}/jwks.json`));
    await expect(
      jwtVerify(token, fresh, { issuer: sut.url, audience: 'tessera' }),
    ).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
  });
});
