import { writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from '../src/database/embedded-postgres';
import { FakeIdp } from './support/fake-idp';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

/**
 * Tokens from external identity providers (Azure AD B2C style), verified through their JWKS.
 * The providers are served by the test itself on local ports.
 */
describe('Trusted issuers', () => {
  let sut: TestApp;
  let b2c: FakeIdp; // jwks_url, B2C-style claim mapping, 30 s leeway
  let oidc: FakeIdp; // OIDC discovery, default mapping
  let stranger: FakeIdp; // not in the policy file
  let deadJwks: string;
  let silent: Server; // accepts connections and never answers
  let silentUrl: string;

  beforeAll(async () => {
    b2c = await new FakeIdp('/b2c/v2.0').start();
    oidc = await new FakeIdp('/oidc').start();
    stranger = await new FakeIdp('/stranger').start();
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const deadPort = await freePort();
    deadJwks = `http://127.0.0.1:${deadPort}`;
    const dir = mkdtempSync(join(tmpdir(), 'tessera-policy-'));
    const policy = join(dir, 'auth.yaml');
    writeFileSync(
      policy,
      `auth:
  trusted_issuers:
    - issuer: ${b2c.issuer}
      jwks_url: ${b2c.jwksUrl}
      audience: [my-api, other-api]
      algorithms: [RS256]
      leeway_seconds: 30
      claims:
        user_id: oid
        email: emails.0
        roles: extension_Roles
        tenant_id: org.tenant_id
    - issuer: ${oidc.issuer}
      discovery: true
      audience: tessera-api
      algorithms: [RS256, ES256]
    - issuer: ${deadJwks}/dead/
      jwks_url: ${deadJwks}/dead/keys
      audience: my-api
    - issuer: ${silentUrl}/silent/
      jwks_url: ${silentUrl}/silent/keys
      audience: my-api
`,
    );
    sut = await startTestApp({
      env: {
        AUTH_POLICY_FILE: policy,
        JWKS_REFETCH_COOLDOWN_SECONDS: '0',
        JWKS_TIMEOUT_MS: '1000',
      },
    });
  });

  afterAll(async () => {
    await sut.close();
    await Promise.all([b2c.stop(), oidc.stop(), stranger.stop()]);
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const b2cClaims = (extra: Record<string, unknown> = {}) => ({
    aud: 'my-api',
    sub: 'b2c-subject-not-used',
    oid: '7c1f3c2e-0000-4000-8000-00000000b2c0',
    emails: ['ada@example.com', 'ada.alt@example.com'],
    name: 'Ada Lovelace',
    extension_Roles: ['operator'],
    org: { tenant_id: 'tenant-42' },
    ...extra,
  });

  const verify = (token: string) => sut.http().get('/auth/verify').set(bearer(token));
  const infer = (token: string) =>
    sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hello' });

  it('maps a B2C token’s claims (oid, emails.0, extension_Roles) into the principal', async () => {
    const token = await b2c.sign(b2cClaims(), { expiresIn: '5m' });
    const response = await verify(token);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: '7c1f3c2e-0000-4000-8000-00000000b2c0',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      roles: ['operator'],
      permissions: ['invoke', 'view_metrics'],
    });
    // Roles give permissions like anyone else's: operator may invoke.
    const ok = await infer(token);
    expect(ok.status).toBe(200);
    expect(ok.body.sub).toBe('7c1f3c2e-0000-4000-8000-00000000b2c0');
    // The same token under another string (base64 padding on the signature) is not accepted.
    expect((await infer(`${token}==`)).status).toBe(401);
  });

  it('rejects an IdP’s token once its user’s tokens are revoked (DELETE /users/:userId/tokens)', async () => {
    const oid = '7c1f3c2e-0000-4000-8000-0000000000aa';
    const token = await b2c.sign(b2cClaims({ oid }), { expiresIn: '5m' });
    expect((await verify(token)).status).toBe(200);
    const admin = await tokenFor(sut.url, CLIENTS.admin);
    expect((await sut.http().delete(`/users/${oid}/tokens`).set(bearer(admin))).status).toBe(200);
    const response = await verify(token);
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({
      detail: 'Token has been revoked',
      code: 'revoked_token',
    });
  });

  it('gives permissions from the mapped roles only', async () => {
    const viewer = await b2c.sign(b2cClaims({ extension_Roles: 'viewer' }), { expiresIn: '5m' });
    const response = await infer(viewer);
    expect(response.status).toBe(403);
    expect(response.body.detail).toBe('Insufficient permissions');
  });

  it('verifies through OIDC discovery, with the default claim mapping', async () => {
    const token = await oidc.sign(
      { aud: 'tessera-api', sub: 'user-7', email: 'grace@example.com', roles: ['viewer'] },
      { expiresIn: '5m' },
    );
    const response = await verify(token);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: 'user-7',
      email: 'grace@example.com',
      name: null,
      roles: ['viewer'],
      permissions: ['view_metrics'],
    });
  });

  it('gives the policy’s default role when the token has no roles claim', async () => {
    const token = await oidc.sign({ aud: 'tessera-api', sub: 'user-8' }, { expiresIn: '5m' });
    const response = await verify(token);
    expect(response.status).toBe(200);
    expect(response.body.roles).toEqual(['operator']);
  });

  it('follows a key rotation at the IdP (unknown kid → JWKS refetched)', async () => {
    const before = await b2c.sign(b2cClaims(), { expiresIn: '5m' });
    expect((await verify(before)).status).toBe(200);
    const fetches = b2c.jwksFetches;
    const newKid = await b2c.rotate();
    const after = await b2c.sign(b2cClaims(), { expiresIn: '5m' });
    const response = await verify(after);
    expect(response.status).toBe(200);
    expect(b2c.jwksFetches).toBe(fetches + 1);
    expect(b2c.currentKid).toBe(newKid);
    // The old key is gone from the IdP's JWKS: its tokens fail now.
    const old = await verify(before);
    expect(old.status).toBe(401);
  });

  it('rejects a token claiming one trusted issuer but signed with another’s key', async () => {
    const forged = await b2c.sign(b2cClaims(), { expiresIn: '5m', with: oidc });
    const response = await verify(forged);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('rejects a token from an unlisted issuer', async () => {
    const token = await stranger.sign(b2cClaims(), { expiresIn: '5m' });
    const response = await verify(token);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('rejects the wrong audience, a missing user id, no exp, and a disallowed algorithm', async () => {
    const cases = [
      await b2c.sign(b2cClaims({ aud: 'someone-else' }), { expiresIn: '5m' }),
      await b2c.sign(b2cClaims({ oid: undefined }), { expiresIn: '5m' }),
      await b2c.sign(b2cClaims()),
    ];
    await b2c.rotate({ alg: 'ES256', keepOld: true });
    cases.push(await b2c.sign(b2cClaims(), { expiresIn: '5m' }));
    await b2c.rotate();
    for (const token of cases) {
      const response = await verify(token);
      expect(response.status).toBe(401);
      expect(response.body.detail).toBe('Invalid authentication credentials');
    }
  });

  it('answers Token has expired past the leeway, and accepts within it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await b2c.sign(b2cClaims(), { expiresIn: now - 120 });
    const response = await verify(expired);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Token has expired');
    const withinLeeway = await b2c.sign(b2cClaims(), { expiresIn: now - 10 });
    expect((await verify(withinLeeway)).status).toBe(200);
  });

  it('answers 401, not a hang or a 500, when an issuer’s JWKS is unreachable', async () => {
    const dead = new FakeIdp('/dead');
    await dead.rotate();
    dead.url = deadJwks;
    const token = await dead.sign({ aud: 'my-api', sub: 'x' }, { expiresIn: '5m' });
    const response = await verify(token);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('answers 401 after JWKS_TIMEOUT_MS when an issuer’s JWKS never answers', async () => {
    const hanging = new FakeIdp('/silent');
    await hanging.rotate();
    hanging.url = silentUrl;
    const token = await hanging.sign({ aud: 'my-api', sub: 'x' }, { expiresIn: '5m' });
    const response = await verify(token);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('still verifies Tessera’s own tokens', async () => {
    const own = await tokenFor(sut.url, CLIENTS.operator);
    const response = await verify(own);
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe(CLIENTS.operator.id);
  });
});
