import { createHmac, createSecretKey } from 'node:crypto';
import { sign as jwtSign, type Algorithm } from 'jsonwebtoken';
import { SignJWT, importJWK, exportJWK } from 'jose';
import { InvalidTokenError, TokenExpiredError } from '../common/errors';
import { keyPair } from '../../test/support/key-pair';
import { signCompactJws, type SigningAlgorithm } from './jws-sign';
import { verifyCompactJws, type ClaimChecks } from './jws-verify';

const NOW = 1_800_000_000;
const CHECKS: ClaimChecks = { issuer: 'https://issuer', audience: 'api', now: NOW };
const CLAIMS = {
  iss: 'https://issuer',
  aud: 'api',
  sub: 'alice',
  iat: NOW - 10,
  nbf: NOW - 10,
  exp: NOW + 60,
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof TokenExpiredError) return 'expired';
    if (error instanceof InvalidTokenError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('verifyCompactJws', () => {
  it.each(['RS256', 'PS256', 'ES256', 'HS256'] as SigningAlgorithm[])(
    '%s: accepts tokens signed by Tessera, jsonwebtoken and jose alike',
    async (alg) => {
      const { privateKey, publicKey } = keyPair(alg);
      const ours = signCompactJws({ alg, kid: 'k' }, CLAIMS, privateKey);
      const theirs = jwtSign(CLAIMS, privateKey, { algorithm: alg as Algorithm });
      const joseKey =
        alg === 'HS256' ? privateKey : await importJWK(await exportJWK(privateKey), alg);
      const jose = await new SignJWT(CLAIMS).setProtectedHeader({ alg }).sign(joseKey);
      for (const token of [ours, theirs, jose])
        expect(verifyCompactJws(token, publicKey, alg, CHECKS)).toEqual(CLAIMS);
    },
  );

  it('refuses a changed payload, a wrong key, a stripped or truncated signature', () => {
    const { privateKey, publicKey } = keyPair('ES256');
    const token = signCompactJws({ alg: 'ES256' }, CLAIMS, privateKey);
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...CLAIMS, sub: 'mallory' })).toString('base64url');
    expect(reason(() => verifyCompactJws(`${h}.${forged}.${s}`, publicKey, 'ES256', CHECKS))).toBe(
      'invalid signature',
    );
    const other = keyPair('ES256').publicKey;
    expect(reason(() => verifyCompactJws(token, other, 'ES256', CHECKS))).toBe('invalid signature');
    expect(reason(() => verifyCompactJws(`${h}.${p}.`, publicKey, 'ES256', CHECKS))).toBe(
      'jwt signature is required',
    );
    expect(
      reason(() => verifyCompactJws(`${h}.${p}.${s.slice(0, 40)}`, publicKey, 'ES256', CHECKS)),
    ).toBe('invalid signature');
    expect(reason(() => verifyCompactJws(`${h}.${p}`, publicKey, 'ES256', CHECKS))).toBe(
      'jwt malformed',
    );
    expect(reason(() => verifyCompactJws(`${token}.x`, publicKey, 'ES256', CHECKS))).toBe(
      'jwt malformed',
    );
  });

  it.each(['RS256', 'ES256', 'HS256'] as SigningAlgorithm[])(
    '%s: accepts one spelling of a signature only (no padding, no spare bits, no stray characters)',
    (alg) => {
      const { privateKey, publicKey } = keyPair(alg);
      const token = signCompactJws({ alg }, CLAIMS, privateKey);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // The last character's lowest bit is a spare one for these lengths (2 or 4 spare bits).
      const last = alphabet[alphabet.indexOf(token[token.length - 1]) ^ 1];
      const [h, p, sig] = token.split('.');
      for (const variant of [
        `${token}=`,
        `${token}==`,
        token.slice(0, -1) + last,
        `${h}.${p}.${sig.slice(0, 10)}\n${sig.slice(10)}`,
        `${h}.${p}.${sig.slice(0, 10)}+${sig.slice(10)}`,
      ])
        expect(reason(() => verifyCompactJws(variant, publicKey, alg, CHECKS))).toMatch(
          /signature/,
        );
      expect(verifyCompactJws(token, publicKey, alg, CHECKS)).toEqual(CLAIMS);
    },
  );

  it('refuses an RS256 signature checked as HS256 with the public key (key confusion)', () => {
    const { publicKey } = keyPair('RS256');
    const secret = createSecretKey(publicKey.export({ type: 'spki', format: 'pem' }) as Buffer);
    const token = signCompactJws({ alg: 'HS256' }, CLAIMS, secret);
    expect(reason(() => verifyCompactJws(token, publicKey, 'RS256', CHECKS))).toBe(
      'invalid signature',
    );
  });

  it('checks iss, aud, exp and nbf without clock tolerance', () => {
    const { privateKey, publicKey } = keyPair('HS256');
    const check = (claims: object, checks = CHECKS) =>
      reason(() =>
        verifyCompactJws(
          signCompactJws({ alg: 'HS256' }, claims, privateKey),
          publicKey,
          'HS256',
          checks,
        ),
      );
    expect(check({ ...CLAIMS, iss: 'https://other' })).toBe('jwt issuer invalid');
    expect(check({ ...CLAIMS, aud: 'other' })).toBe('jwt audience invalid');
    expect(check({ ...CLAIMS, aud: ['other', 'api'] })).toBe('accepted');
    expect(check({ ...CLAIMS, exp: NOW })).toBe('expired');
    expect(check({ ...CLAIMS, exp: NOW + 1 })).toBe('accepted');
    expect(check({ ...CLAIMS, exp: NOW }, { ...CHECKS, ignoreExpiration: true })).toBe('accepted');
    expect(check({ ...CLAIMS, exp: String(NOW + 60) })).toBe('invalid exp value');
    expect(check({ ...CLAIMS, nbf: NOW + 1 })).toBe('not yet valid');
    expect(check({ ...CLAIMS, nbf: 'soon' })).toBe('invalid nbf value');
  });

  it('names the holder of an expired token whose signature verified, and no one for a forged one', () => {
    const { privateKey, publicKey } = keyPair('HS256');
    const expired = signCompactJws(
      { alg: 'HS256' },
      { ...CLAIMS, exp: NOW, client_id: 'svc' },
      privateKey,
    );
    const holderOf = (token: string) => {
      try {
        verifyCompactJws(token, publicKey, 'HS256', CHECKS);
      } catch (error) {
        return error instanceof TokenExpiredError ? error.holder : error;
      }
    };
    expect(holderOf(expired)).toEqual({ subject: 'alice', clientId: 'svc' });
    // The same claims under a signature that does not verify: invalid, not expired, no holder.
    const [h, p] = expired.split('.');
    expect(holderOf(`${h}.${p}.${'A'.repeat(43)}`)).toBeInstanceOf(InvalidTokenError);
  });

  it('refuses a payload that is not a JSON object', () => {
    const { privateKey, publicKey } = keyPair('HS256');
    const header = Buffer.from('{"alg":"HS256"}').toString('base64url');
    for (const payload of ['[1]', 'null', 'not json']) {
      const body = Buffer.from(payload).toString('base64url');
      const token = `${header}.${body}`;
      const mac = createHmac('sha256', privateKey).update(token).digest('base64url');
      expect(reason(() => verifyCompactJws(`${token}.${mac}`, publicKey, 'HS256', CHECKS))).toMatch(
        /payload/,
      );
    }
  });
});
