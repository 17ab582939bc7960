import { createSecretKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { decode, verify, type Algorithm } from 'jsonwebtoken';
import { jwtVerify, importJWK, exportJWK } from 'jose';
import { signCompactJws, type SigningAlgorithm } from './jws-sign';

function keyPair(alg: SigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  if (alg === 'HS256') {
    const secret = createSecretKey(randomBytes(32));
    return { privateKey: secret, publicKey: secret };
  }
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

describe('signCompactJws', () => {
  const claims = { sub: 'alice', aud: 'api', iss: 'https://issuer', exp: 4_000_000_000, n: 'ü' };

  it.each(['RS256', 'PS256', 'ES256', 'HS256'] as SigningAlgorithm[])(
    '%s tokens verify with jsonwebtoken and jose, header as given',
    async (alg) => {
      const { privateKey, publicKey } = keyPair(alg);
      const token = signCompactJws({ alg, typ: 'at+jwt', kid: 'k1' }, claims, privateKey);
      expect(decode(token, { complete: true })?.header).toEqual({ alg, typ: 'at+jwt', kid: 'k1' });
      expect(verify(token, publicKey, { algorithms: [alg as Algorithm] })).toEqual(claims);
      const joseKey =
        alg === 'HS256' ? publicKey : await importJWK(await exportJWK(publicKey), alg);
      const { payload, protectedHeader } = await jwtVerify(token, joseKey, { algorithms: [alg] });
      expect(payload).toEqual(claims);
      expect(protectedHeader.kid).toBe('k1');
    },
  );

  it('fails on a wrong key (the signature is real, not a fixed value)', () => {
    const a = keyPair('ES256');
    const b = keyPair('ES256');
    const token = signCompactJws({ alg: 'ES256', kid: 'a' }, claims, a.privateKey);
    expect(() => verify(token, b.publicKey, { algorithms: ['ES256'] })).toThrow(/signature/);
  });

  it('keeps one header segment per key and header', () => {
    const { privateKey } = keyPair('ES256');
    const one = signCompactJws({ alg: 'ES256', kid: 'a' }, claims, privateKey).split('.')[0];
    const two = signCompactJws({ alg: 'ES256', kid: 'b' }, claims, privateKey).split('.')[0];
    expect(one).not.toBe(two);
    expect(JSON.parse(Buffer.from(two, 'base64url').toString())).toEqual({
      alg: 'ES256',
      kid: 'b',
    });
  });
});
