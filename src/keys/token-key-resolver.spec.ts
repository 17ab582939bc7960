import { generateKeyPairSync } from 'node:crypto';
import type { KeysService } from './keys.service';
import { InvalidTokenError } from '../common/errors';
import { decodeHeader, TokenKeyResolver } from './token-key-resolver';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const token = (header: Record<string, unknown>) => `${b64(header)}.${b64({})}.sig`;

describe('TokenKeyResolver', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ring = new Map([['k1', { kid: 'k1', algorithm: 'RS256', key: publicKey }]]);
  const keys = {
    verificationKey: (kid: string) => ring.get(kid),
    verificationKeyWithRefresh: async (kid: string) => ring.get(kid),
  } as unknown as KeysService;
  const sut = new TokenKeyResolver(
    { issuer: 'http://iss', audience: 'aud', algorithm: 'RS256' } as never,
    keys,
  );
  /** A value (a key in the ring) or a promise (a kid looked up): either way, a promise here. */
  const resolve = async (raw: string) => sut.resolve(raw);

  it('returns the ring’s KeyObject for a well-formed header', async () => {
    await expect(resolve(token({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' }))).resolves.toEqual({
      key: publicKey,
      kid: 'k1',
      algorithm: 'RS256',
    });
    await expect(
      resolve(token({ alg: 'RS256', typ: 'application/at+jwt', kid: 'k1' })),
    ).resolves.toBeDefined();
  });

  it.each([
    ['alg none', { alg: 'none', typ: 'at+jwt', kid: 'k1' }],
    ['HS256 (key confusion)', { alg: 'HS256', typ: 'at+jwt', kid: 'k1' }],
    ['an alg other than the key’s', { alg: 'PS256', typ: 'at+jwt', kid: 'k1' }],
    ['a missing typ', { alg: 'RS256', kid: 'k1' }],
    ['typ JWT', { alg: 'RS256', typ: 'JWT', kid: 'k1' }],
    ['a missing kid', { alg: 'RS256', typ: 'at+jwt' }],
    ['a numeric kid', { alg: 'RS256', typ: 'at+jwt', kid: 1 }],
    ['an unknown kid', { alg: 'RS256', typ: 'at+jwt', kid: 'k2' }],
  ])('refuses %s', async (_name, header) => {
    await expect(resolve(token(header))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('answers at once for a key in the ring, and waits for the lookup of an unknown kid', async () => {
    expect(sut.resolve(token({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' }))).not.toBeInstanceOf(
      Promise,
    );
    const looked = sut.resolve(token({ alg: 'RS256', typ: 'at+jwt', kid: 'k3' }));
    expect(looked).toBeInstanceOf(Promise);
    await expect(looked).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('remembers decoded headers by their exact text, never mixing two apart', async () => {
    const first = token({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' });
    await expect(resolve(first)).resolves.toMatchObject({ kid: 'k1' });
    await expect(resolve(first)).resolves.toMatchObject({ kid: 'k1' }); // from the cache
    await expect(resolve(token({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' }))).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
    for (let i = 0; i < 200; i++)
      await resolve(token({ alg: 'RS256', typ: 'at+jwt', kid: `x${i}` })).catch(() => undefined);
    await expect(resolve(first)).resolves.toMatchObject({ kid: 'k1' }); // bounded, still right
  });

  it('pins the verification options', () => {
    expect(sut.verifyOptions).toMatchObject({
      algorithms: ['RS256', 'PS256', 'ES256'],
      issuer: 'http://iss',
      audience: 'aud',
    });
  });

  it.each(['', '.', 'abc', '!!!.x.y', `${Buffer.from('null').toString('base64url')}.x.y`])(
    'decodeHeader refuses %p',
    (raw) => {
      expect(() => decodeHeader(raw)).toThrow(InvalidTokenError);
    },
  );
});
