import { decode, verify, type Algorithm } from 'jsonwebtoken';
import { jwtVerify, importJWK, exportJWK } from 'jose';
import { keyPair } from '../../test/support/key-pair';
import { signCompactJws, type SigningAlgorithm } from './jws-sign';

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
