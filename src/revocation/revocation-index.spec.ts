import { randomUUID } from 'node:crypto';
import { uuidV7 } from '../oauth/token.service';
import {
  cutoffMs,
  RevocableToken,
  RevocationIndex,
  UuidTable,
  uuidV7Millis,
  uuidWords,
} from './revocation-index';
import { fromWire, toWire, WireEntry } from './revocation-index.service';

const NOW = 1_800_000_000;
/** A cut-off 500 ms into second NOW. */
const CUTOFF = NOW * 1000 + 500;

/** A token of ours issued at `ms`: iat its second, jti a UUIDv7 of it. */
function issuedAt(ms: number, overrides: Partial<RevocableToken> = {}): RevocableToken {
  return token({ jti: uuidV7(ms), iat: Math.floor(ms / 1000), ...overrides });
}

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

  it('revokes a subject’s tokens issued up to its cut-off, to the millisecond', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'subject', value: 'user-1', revokedBeforeMs: CUTOFF, expiresAt: NOW + 3600 });
    expect(sut.isRevoked(token({ iat: NOW - 100 }))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF - 100_000))).toBe(true);
    // The cut-off's own second: the jti's millisecond decides.
    expect(sut.isRevoked(issuedAt(NOW * 1000))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF - 1))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF + 1))).toBe(false);
    expect(sut.isRevoked(issuedAt(NOW * 1000 + 999))).toBe(false);
    expect(sut.isRevoked(issuedAt(NOW * 1000 + 1000))).toBe(false);
    expect(sut.isRevoked(token({ iat: NOW + 1 }))).toBe(false);
    expect(sut.isRevoked(token({ sub: 'user-2', iat: NOW - 100 }))).toBe(false);
  });

  it('revokes a client’s tokens issued before the revocation, and keeps the later cut-off', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'client', value: 'svc', revokedBeforeMs: CUTOFF, expiresAt: NOW + 60 });
    sut.apply({ kind: 'client', value: 'svc', revokedBeforeMs: CUTOFF - 300, expiresAt: NOW + 60 });
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW - 1 }))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF - 100, { client_id: 'svc' }))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF + 1, { client_id: 'svc' }))).toBe(false);
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW + 1 }))).toBe(false);
    expect(sut.isRevoked(token({ client_id: 'other', iat: NOW - 1 }))).toBe(false);
    // A token of another client (or none) is not judged by this cut-off at all.
    expect(sut.isRevoked(issuedAt(CUTOFF - 100, { client_id: 'other' }))).toBe(false);
    expect(sut.isRevoked(issuedAt(CUTOFF - 100))).toBe(false);
  });

  it('revokes a token of the cut-off’s second whose jti does not say when it was issued', () => {
    const sut = new RevocationIndex();
    sut.apply({ kind: 'client', value: 'svc', revokedBeforeMs: CUTOFF, expiresAt: NOW + 60 });
    const inSecond = (jti: string) => token({ client_id: 'svc', iat: NOW, jti });
    // A random (v4) jti: a token minted before UUIDv7 jtis, or elsewhere.
    expect(sut.isRevoked(inSecond(randomUUID()))).toBe(true);
    expect(sut.isRevoked(inSecond('legacy-token-7'))).toBe(true);
    expect(sut.isRevoked(inSecond(''))).toBe(true);
    // A v7 jti whose time is not in the token's own iat second says nothing about it.
    expect(sut.isRevoked(inSecond(uuidV7(CUTOFF + 1000)))).toBe(true);
    expect(sut.isRevoked(inSecond(uuidV7(CUTOFF - 1000)))).toBe(true);
    // Upper case is still a v7 UUID.
    expect(sut.isRevoked(inSecond(uuidV7(CUTOFF + 1).toUpperCase()))).toBe(false);
    // Outside the cut-off's second, iat alone decides whatever the jti.
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW + 1, jti: 'x' }))).toBe(false);
    expect(sut.isRevoked(token({ client_id: 'svc', iat: NOW - 1, jti: uuidV7(CUTOFF + 1) }))).toBe(
      true,
    );
  });

  it('reads a whole-second cut-off (written before milliseconds) as covering all of that second', () => {
    expect(cutoffMs(NOW * 1000)).toBe(NOW * 1000 + 999);
    expect(cutoffMs(CUTOFF)).toBe(CUTOFF);
    const sut = new RevocationIndex();
    sut.apply({
      kind: 'subject',
      value: 'user-1',
      revokedBeforeMs: NOW * 1000,
      expiresAt: NOW + 60,
    });
    expect(sut.isRevoked(token({ iat: NOW }))).toBe(true);
    expect(sut.isRevoked(issuedAt(NOW * 1000 + 999))).toBe(true);
    expect(sut.isRevoked(issuedAt(NOW * 1000 + 1000))).toBe(false);
    // A later millisecond cut-off in that second does not shrink it.
    sut.apply({ kind: 'subject', value: 'user-1', revokedBeforeMs: CUTOFF, expiresAt: NOW + 60 });
    expect(sut.isRevoked(issuedAt(NOW * 1000 + 999))).toBe(true);
  });

  it('keeps the cut-off’s milliseconds through the NOTIFY wire format', () => {
    const sut = new RevocationIndex();
    const sent = toWire({ kind: 'client', value: 'svc', revokedBeforeMs: CUTOFF, expiresAt: NOW });
    // Whole seconds where they always were (what an earlier version reads), milliseconds last.
    expect(sent).toEqual(['c', 'svc', NOW, NOW, CUTOFF]);
    const received = fromWire(JSON.parse(JSON.stringify(sent)) as WireEntry);
    expect(received).toEqual({
      kind: 'client',
      value: 'svc',
      revokedBeforeMs: CUTOFF,
      expiresAt: NOW,
    });
    sut.apply(received);
    expect(sut.isRevoked(issuedAt(CUTOFF, { client_id: 'svc' }))).toBe(true);
    expect(sut.isRevoked(issuedAt(CUTOFF + 1, { client_id: 'svc' }))).toBe(false);
    // An entry from an earlier version carries whole seconds only: all of that second.
    expect(fromWire(['s', 'user-1', NOW, NOW + 60])).toEqual({
      kind: 'subject',
      value: 'user-1',
      revokedBeforeMs: NOW * 1000,
      expiresAt: NOW + 60,
    });
    const jti = randomUUID();
    expect(fromWire(toWire({ kind: 'jti', value: jti, expiresAt: NOW }))).toEqual({
      kind: 'jti',
      value: jti,
      expiresAt: NOW,
    });
  });

  it('forgets entries once the tokens they cover have expired', () => {
    const sut = new RevocationIndex();
    const expired = token({ exp: NOW - 1 });
    const live = token({ exp: NOW + 60 });
    sut.apply({ kind: 'jti', value: expired.jti, expiresAt: expired.exp });
    sut.apply({ kind: 'jti', value: live.jti, expiresAt: live.exp });
    sut.apply({ kind: 'jti', value: 'legacy', expiresAt: NOW - 1 });
    sut.apply({
      kind: 'subject',
      value: 'gone',
      revokedBeforeMs: (NOW - 10) * 1000,
      expiresAt: NOW - 1,
    });
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

  it('reads the millisecond of a UUIDv7 only', () => {
    expect(uuidV7Millis('01901234-abcd-7def-8123-456789abcdef')).toBe(0x0190_1234_abcd);
    expect(uuidV7Millis('01901234-ABCD-7DEF-B123-456789ABCDEF')).toBe(0x0190_1234_abcd);
    expect(uuidV7Millis(randomUUID())).toBe(-1); // version 4
    expect(uuidV7Millis('01901234-abcd-7def-c123-456789abcdef')).toBe(-1); // not variant 10
    expect(uuidV7Millis('01901234-abcd-6def-8123-456789abcdef')).toBe(-1);
    expect(uuidV7Millis('0190123g-abcd-7def-8123-456789abcdef')).toBe(-1);
    expect(uuidV7Millis('not-a-uuid')).toBe(-1);
    expect(uuidV7Millis('')).toBe(-1);
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
