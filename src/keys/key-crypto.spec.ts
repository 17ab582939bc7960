import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  generateSigningKeyPair,
  jwkThumbprint,
  keyFitsAlgorithm,
  toPublicJwk,
} from './key-crypto';

describe('key crypto', () => {
  const kek = randomBytes(32);

  it('round-trips a private key through AES-256-GCM', () => {
    const { privateKey, publicKey } = generateSigningKeyPair('ES256');
    const sealed = encryptPrivateKey(privateKey, kek, 'kid-1');
    expect(sealed).toMatch(/^v1\./);
    const opened = decryptPrivateKey(sealed, kek, 'kid-1');
    expect(jwkThumbprint(createPublicKey(opened))).toBe(jwkThumbprint(publicKey));
  });

  it('refuses to decrypt with another key encryption key', () => {
    const { privateKey } = generateSigningKeyPair('ES256');
    expect(() =>
      decryptPrivateKey(encryptPrivateKey(privateKey, kek, 'k'), randomBytes(32), 'k'),
    ).toThrow();
  });

  it('binds the ciphertext to its kid (a row copied under another kid fails)', () => {
    const { privateKey } = generateSigningKeyPair('ES256');
    expect(() => decryptPrivateKey(encryptPrivateKey(privateKey, kek, 'a'), kek, 'b')).toThrow();
  });

  it('detects a tampered ciphertext', () => {
    const { privateKey } = generateSigningKeyPair('ES256');
    const parts = encryptPrivateKey(privateKey, kek, 'k').split('.');
    const body = Buffer.from(parts[3], 'base64');
    body[0] ^= 1;
    parts[3] = body.toString('base64');
    expect(() => decryptPrivateKey(parts.join('.'), kek, 'k')).toThrow();
  });

  it('computes the RFC 7638 thumbprint of the RFC example key', () => {
    // RFC 7638 §3.1 example.
    const jwk = {
      kty: 'RSA',
      e: 'AQAB',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    };
    expect(jwkThumbprint(createPublicKey({ key: jwk, format: 'jwk' }))).toBe(
      'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('publishes public members only', () => {
    const { publicKey } = generateSigningKeyPair('RS256');
    const jwk = toPublicJwk(publicKey, 'k', 'RS256');
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    const ec = toPublicJwk(generateSigningKeyPair('ES256').publicKey, 'k', 'ES256');
    expect(Object.keys(ec).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  });

  it('matches keys to algorithms', () => {
    const rsa = generateSigningKeyPair('RS256').publicKey;
    const ec = generateSigningKeyPair('ES256').publicKey;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(keyFitsAlgorithm(rsa, 'RS256')).toBe(true);
    expect(keyFitsAlgorithm(rsa, 'PS256')).toBe(true);
    expect(keyFitsAlgorithm(rsa, 'ES256')).toBe(false);
    expect(keyFitsAlgorithm(ec, 'ES256')).toBe(true);
    expect(keyFitsAlgorithm(weak, 'RS256')).toBe(false);
  });
});
