import { createHmac, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { KeysService } from '../src/keys/keys.service';
import { bearer, CLIENTS, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/**
 * Forged, malformed and mis-addressed tokens: each is a 401 with the SPEC's detail, never a 5xx.
 * Tokens are forged with our real private key where that is the point (wrong iss/aud, expired…).
 */
describe('token verification rejects forged and malformed tokens', () => {
  let sut: TestApp;
  let good: string;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let kid: string;

  const claims = (overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const all: Record<string, unknown> = {
      iss: sut.url,
      sub: 'forger',
      aud: 'tessera',
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: randomUUID(),
      client_id: 'forger',
      scope: 'model:invoke',
      roles: ['admin'],
      token_type: 'access',
      ...overrides,
    };
    // An override of `undefined` removes the claim.
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
  };
  const signed = (
    payload: object,
    header: Record<string, unknown> = {},
    key: KeyObject = privateKey,
  ) =>
    sign(payload, key, {
      algorithm: 'RS256',
      header: { alg: 'RS256', typ: 'at+jwt', kid, ...header } as never,
    });
  const call = (token: string) =>
    sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'hi' });

  beforeAll(async () => {
    sut = await startTestApp();
    good = await tokenFor(sut.url, CLIENTS.operator);
    const active = sut.app.get(KeysService).signingKey();
    privateKey = active.privateKey;
    publicKey = active.key;
    kid = active.kid;
  });

  afterAll(async () => {
    await sut.close();
  });

  it('accepts the genuine token and one we forge correctly with the real key (sanity check)', async () => {
    expect((await call(good)).status).toBe(200);
    expect((await call(signed(claims()))).status).toBe(200);
  });

  it('answers a missing token with Not authenticated and a bare Bearer challenge', async () => {
    const response = await sut.http().post('/v1/infer').send({ prompt: 'hi' });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ detail: 'Not authenticated', code: 'not_authenticated' });
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('answers an expired token with Token has expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const response = await call(signed(claims({ iat: now - 700, nbf: now - 700, exp: now - 100 })));
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ detail: 'Token has expired', code: 'token_expired' });
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  const forged: Array<[string, () => string]> = [
    ['a wrong issuer', () => signed(claims({ iss: 'https://evil.example.com' }))],
    ['a wrong audience', () => signed(claims({ aud: 'another-api' }))],
    ['no issuer', () => signed(claims({ iss: undefined }))],
    ['no audience', () => signed(claims({ aud: undefined }))],
    ['no exp', () => signed(claims({ exp: undefined }))],
    ['no jti', () => signed(claims({ jti: undefined }))],
    ['no sub', () => signed(claims({ sub: undefined }))],
    ['a future nbf', () => signed(claims({ nbf: Math.floor(Date.now() / 1000) + 3600 }))],
    ['an unknown kid', () => signed(claims(), { kid: 'no-such-key' })],
    ['no kid', () => signed(claims(), { kid: undefined })],
    ['typ JWT instead of at+jwt', () => signed(claims(), { typ: 'JWT' })],
    ['a parent token', () => signed(claims({ token_type: 'parent' }))],
    ['a refresh token type', () => signed(claims({ token_type: 'refresh' }))],
    ['alg none', () => `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims())}.`],
    [
      'alg none with a signature',
      () => `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims())}.${b64('sig')}`,
    ],
    [
      'HS256 signed with our public key as the HMAC secret',
      () => {
        const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${b64(claims())}`;
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
    ],
    [
      'a tampered payload (roles raised after signing)',
      () => {
        const [header, , signature] = good.split('.');
        const payload = JSON.parse(Buffer.from(good.split('.')[1], 'base64url').toString());
        return `${header}.${b64({ ...payload, roles: ['admin'] })}.${signature}`;
      },
    ],
    [
      'a signature from another key with our kid',
      () => signed(claims(), {}, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    ],
    [
      'a key embedded in the header (jwk) signing the token',
      () => {
        const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return signed(
          claims(),
          { jwk: attacker.publicKey.export({ format: 'jwk' }), kid: undefined },
          attacker.privateKey,
        );
      },
    ],
    [
      'a jku pointing elsewhere',
      () => {
        const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return signed(
          claims(),
          { jku: 'http://127.0.0.1:1/jwks.json', kid: 'attacker' },
          attacker.privateKey,
        );
      },
    ],
    [
      'RS256 header on an ES256-shaped signature',
      () => signed(claims()).replace(/\.[^.]+$/, '.' + b64('x'.repeat(64))),
    ],
    ['garbage', () => 'not-a-jwt'],
    ['two segments', () => 'abc.def'],
    ['a header that is not JSON', () => `${b64('{{{')}.${b64(claims())}.c2ln`],
    ['a header that is JSON but not an object', () => `${b64('[1,2]')}.${b64(claims())}.c2ln`],
    [
      'a payload that is not JSON',
      () => `${b64({ alg: 'RS256', typ: 'at+jwt', kid })}.${b64('nope')}.c2ln`,
    ],
    ['a very long kid', () => signed(claims(), { kid: 'k'.repeat(5000) })],
    ['an empty signature', () => signed(claims()).replace(/\.[^.]+$/, '.')],
    // The genuine token under another string (RFC 7515 §2 allows one spelling).
    ['the genuine token with base64 padding', () => `${good}==`],
    [
      'the genuine token with another last character (spare bits set)',
      () => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        return good.slice(0, -1) + alphabet[alphabet.indexOf(good[good.length - 1]) ^ 1];
      },
    ],
  ];

  it.each(forged)('rejects %s with 401 Invalid authentication credentials', async (_name, make) => {
    const response = await call(make());
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body).toMatchObject({
      detail: 'Invalid authentication credentials',
      code: 'invalid_token',
    });
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it.each(['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer', 'Token abc'])(
    'answers the Authorization header %p with a 401, never a 5xx',
    async (header) => {
      const response = await sut
        .http()
        .post('/v1/infer')
        .set('Authorization', header)
        .send({ prompt: 'hi' });
      expect(response.status).toBe(401);
    },
  );

  it('rejects a token from a retired key even though it was once genuine', async () => {
    const keys = sut.app.get(KeysService);
    const before = await tokenFor(sut.url, CLIENTS.operator);
    const rotated = await keys.rotate('soft');
    expect((await call(before)).status).toBe(200);
    await keys.retire(kid);
    const response = await call(before);
    expect(response.status).toBe(401);
    expect(response.body.detail).toBe('Invalid authentication credentials');
    expect(rotated.kid).not.toBe(kid);
  });
});
