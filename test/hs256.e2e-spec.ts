import { sign } from 'jsonwebtoken';
import { generateKeyPairSync } from 'node:crypto';
import { signAccessToken } from '../src/oauth/token.service';
import { KeysService } from '../src/keys/keys.service';
import { sharedSecretKey } from '../src/keys/shared-secret';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

const SECRET = 'an-hs256-shared-secret-of-40-characters!';

/** Tokens as `tessera token --algorithm HS256` mints them (same function), for a server at `url`. */
function cliToken(url: string, options: { secret?: string; expiresIn?: number | null } = {}) {
  return signAccessToken(
    sharedSecretKey(options.secret ?? SECRET),
    { issuer: url, audience: 'tessera' },
    { subject: 'analytics-service', roles: ['operator'] },
    options.expiresIn === undefined ? 600 : options.expiresIn,
  ).token;
}

const infer = (sut: TestApp, token: string) =>
  sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });

describe('HS256 shared-secret mode with ALLOW_NON_EXPIRING_TOKENS=true', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({
      env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: SECRET, ALLOW_NON_EXPIRING_TOKENS: 'true' },
    });
  });

  afterAll(async () => {
    await sut.close();
  });

  it('issues and verifies HS256 tokens and publishes no keys', async () => {
    const token = await tokenFor(sut.url, CLIENTS.operator);
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect((await infer(sut, token)).status).toBe(200);
    const jwks = await sut.http().get('/.well-known/jwks.json');
    expect(jwks.body).toEqual({ keys: [] });
  });

  it('accepts a token minted with the shared secret outside the server (the CLI’s way)', async () => {
    const response = await infer(sut, cliToken(sut.url));
    expect(response.status).toBe(200);
    expect(response.body.sub).toBe('analytics-service');
  });

  it('accepts a token without exp, because this mode allows it', async () => {
    const response = await infer(sut, cliToken(sut.url, { expiresIn: null }));
    expect(response.status).toBe(200);
    expect(response.body.exp).toBeUndefined();
  });

  it('rejects a token signed with another secret', async () => {
    const response = await infer(sut, cliToken(sut.url, { secret: 'x'.repeat(40) }));
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('rejects a plain typ JWT token without iss and aud (another tool’s)', async () => {
    const foreign = sign({ sub: 'client' }, SECRET, { algorithm: 'HS256' });
    const response = await infer(sut, foreign);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
  });

  it('rejects an RS256 token even when it names the shared key’s kid', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = sharedSecretKey(SECRET).kid;
    const forged = sign({ sub: 'x', iss: sut.url, aud: 'tessera' }, privateKey, {
      algorithm: 'RS256',
      header: { alg: 'RS256', typ: 'at+jwt', kid },
      expiresIn: 60,
    });
    expect((await infer(sut, forged)).status).toBe(401);
  });

  it('answers Token has expired for an expired HS256 token', async () => {
    const expired = signAccessToken(
      sharedSecretKey(SECRET),
      { issuer: sut.url, audience: 'tessera' },
      { subject: 's', roles: ['operator'] },
      1,
    ).token;
    const claims = JSON.parse(Buffer.from(expired.split('.')[1], 'base64url').toString());
    // Re-sign the same claims one minute in the past instead of waiting.
    const past = sign(
      { ...claims, iat: claims.iat - 120, nbf: claims.nbf - 120, exp: claims.exp - 120 },
      SECRET,
      {
        algorithm: 'HS256',
        header: { alg: 'HS256', typ: 'at+jwt', kid: sharedSecretKey(SECRET).kid },
      },
    );
    const response = await infer(sut, past);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Token has expired');
  });
});

describe('HS256 mode without ALLOW_NON_EXPIRING_TOKENS', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({ env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: SECRET } });
  });

  afterAll(async () => {
    await sut.close();
  });

  it('rejects a token without exp', async () => {
    const response = await infer(sut, cliToken(sut.url, { expiresIn: null }));
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
    expect((await infer(sut, cliToken(sut.url))).status).toBe(200);
  });
});

describe('ALLOW_NON_EXPIRING_TOKENS outside HS256 mode', () => {
  let sut: TestApp;

  beforeAll(async () => {
    sut = await startTestApp({ env: { ALLOW_NON_EXPIRING_TOKENS: 'true' } });
  });

  afterAll(async () => {
    await sut.close();
  });

  it('still requires exp on RS256 tokens', async () => {
    // Signed with the server's own active key: only the missing exp is wrong.
    const key = sut.app.get(KeysService).signingKey();
    expect(key.algorithm).toBe('RS256');
    const noExp = signAccessToken(
      key,
      { issuer: sut.url, audience: 'tessera' },
      { subject: 'x', roles: ['operator'] },
      null,
    ).token;
    const response = await infer(sut, noExp);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
    expect((await infer(sut, await tokenFor(sut.url, CLIENTS.operator))).status).toBe(200);
  });
});
