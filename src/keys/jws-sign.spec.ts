import { decode, verify, type Algorithm } from 'jsonwebtoken';
import { jwtVerify, importJWK, exportJWK } from 'jose';
import { keyPair } from '../../test/support/key-pair';
import { SignatureBatch, signCompactJws, type SigningAlgorithm } from './jws-sign';

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

  describe('SignatureBatch', () => {
    it('signs what one turn asked for after that turn, together, each verifying', async () => {
      const { privateKey, publicKey } = keyPair('ES256');
      const batch = new SignatureBatch();
      const signed: string[] = [];
      const pending = [1, 2, 3].map((n) =>
        batch
          .sign({ alg: 'ES256', kid: 'k' }, { ...claims, n }, privateKey)
          .then((jws) => signed.push(jws)),
      );
      await Promise.resolve(); // microtasks of this turn: nothing is signed yet
      expect(signed).toHaveLength(0);
      await Promise.all(pending);
      expect(signed.map((jws) => (verify(jws, publicKey) as { n: number }).n)).toEqual([1, 2, 3]);
      // The next turn's request is signed in its own batch.
      const later = await batch.sign({ alg: 'ES256', kid: 'k' }, claims, privateKey);
      expect(verify(later, publicKey, { algorithms: ['ES256'] })).toEqual(claims);
    });

    it('fails only the signature that cannot be made', async () => {
      const { privateKey } = keyPair('ES256');
      const batch = new SignatureBatch();
      const bad = batch.sign({ alg: 'ES256', kid: 'k' }, { big: 1n }, privateKey);
      const good = batch.sign({ alg: 'ES256', kid: 'k' }, claims, privateKey);
      await expect(bad).rejects.toThrow(/BigInt/);
      await expect(good).resolves.toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });
  });
});
