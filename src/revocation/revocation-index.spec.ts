import { randomUUID } from 'node:crypto';
import { RevocableToken, RevocationIndex, UuidTable, uuidWords } from './revocation-index';

const NOW = 1_800_000_000;

function token(overrides: Partial<RevocableToken> = {}): RevocableToken {
  return { jti: randomUUID(), iat: NOW - 10, exp: NOW + 600, sub: 'user-1', ...overrides };
}

describe('RevocationIndex', () => {
  it('revokes exactly the jti it was given', () => {
    const sut = new RevocationIndex();
    const revoked = token();
    sut.apply({ kind: 'jti', value: revoked.jti, expiresAt: revoked.exp });
    expect(sut.isRevoked(revoked)).toBe(true);
    expect(sut.isRevoked(token())).toBe(false);
  });

  it('revokes jtis that are not UUIDs as well', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'jti', value: 'legacy-token-7', expiresAt: NOW + 60 });
    expect(sut.isRevoked(token({ jti: 'legacy-token-7' }))).toBe(true);
    expect(sut.isRevoked(token({ jti: 'legacy-token-8' }))).toBe(false);
  });

  it('revokes every child of a revoked parent without listing them', () => {
    const sut = new RevocationIndex();
    const parent = randomUUID();
    sut.apply({ kind: 'jti', value: parent, expiresAt: NOW + 3600 });
    expect(sut.isRevoked(token({ parent_jti: parent }))).toBe(true);
    expect(sut.isRevoked(token({ parent_jti: randomUUID() }))).toBe(false);
  });

  it('revokes a subject’s tokens issued up to and including the revocation second', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'subject', value: 'user-1', revokedBefore: NOW, expiresAt: NOW + 3600 });
    expect(sut.isRevoked(token({ iat: NOW - 100 }))).toBe(true);
    expect(sut.isRevoked(token({ iat: NOW }))).toBe(true);
    expect(sut.isRevoked(token({ iat: NOW + 1 }))).toBe(false);
    expect(sut.isRevoked(token({ sub: 'user-2', iat: NOW - 100 }))).toBe(false);
  });

  it('revokes a client’s tokens issued before the revocation, and keeps the later cut-off', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'client', value: 'svc', revokedBefore: NOW, expiresAt: NOW + 60 });
    sut.apply({ kind: 'client', value: 'svc', revokedBefore: NOW - 500, expiresAt: NOW + 60 });
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW - 1 }))).toBe(true);
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW + 1 }))).toBe(false);
    expect(sut.isRevoked(token({ client_id: 'other', iat: NOW - 1 }))).toBe(false);
  });

  it('forgets entries once the tokens they cover have expired', () => {
    const sut = new RevocationIndex();
    const expired = token({ exp: NOW - 1 });
    const live = token({ exp: NOW + 60 });
    sut.apply({ kind: 'jti', value: expired.jti, expiresAt: expired.exp });
    sut.apply({ kind: 'jti', value: live.jti, expiresAt: live.exp });
    sut.apply({ kind: 'jti', value: 'legacy', expiresAt: NOW - 1 });
    sut.apply({ kind: 'subject', value: 'gone', revokedBefore: NOW - 10, expiresAt: NOW - 1 });
    expect(sut.compact(NOW)).toBe(3);
    expect(sut.hasJti(expired.jti)).toBe(false);
    expect(sut.hasJti(live.jti)).toBe(true);
    expect(sut.size).toEqual({ jtis: 1, subjects: 0, clients: 0 });
  });
});

describe('UuidTable', () => {
  it('keeps every key through growth and finds none it was not given', () => {
    const sut = new UuidTable();
    const keys = Array.from({ length: 20_000 }, () => randomUUID());
    for (const key of keys) {
      const w = uuidWords(key)!;
      sut.add(w[0], w[1], w[2], w[3], NOW + 10);
    }
    expect(sut.size).toBe(keys.length);
    for (const key of keys) {
      const w = uuidWords(key)!;
      expect(sut.has(w[0], w[1], w[2], w[3])).toBe(true);
    }
    for (let i = 0; i < 1000; i++) {
      const w = uuidWords(randomUUID())!;
      expect(sut.has(w[0], w[1], w[2], w[3])).toBe(false);
    }
  });

  it('does not count a key twice', () => {
    const sut = new UuidTable();
    const w = uuidWords(randomUUID())!;
    sut.add(w[0], w[1], w[2], w[3], NOW);
    sut.add(w[0], w[1], w[2], w[3], NOW + 5);
    expect(sut.size).toBe(1);
  });

  it('shrinks after most entries expire', () => {
    const sut = new UuidTable();
    for (let i = 0; i < 50_000; i++) {
      const w = uuidWords(randomUUID())!;
      sut.add(w[0], w[1], w[2], w[3], i < 49_000 ? NOW - 1 : NOW + 60);
    }
    const grown = sut.bytes;
    sut.compact(NOW);
    expect(sut.size).toBe(1000);
    expect(sut.bytes).toBeLessThan(grown / 8);
  });

  it('parses only well-formed UUIDs', () => {
    expect(uuidWords('00000000-0000-0000-0000-000000000001')).toEqual([0, 0, 0, 1]);
    expect(uuidWords('ffffffff-ffff-ffff-ffff-ffffffffffff')).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
    expect(uuidWords('not-a-uuid')).toBeUndefined();
    expect(uuidWords('0000000g-0000-0000-0000-000000000001')).toBeUndefined();
  });
});
