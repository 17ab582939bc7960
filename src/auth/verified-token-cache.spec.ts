import type { KeysService } from '../keys/keys.service';
import type { AccessTokenClaims } from '../access/access-token';
import { VERIFIED_TOKEN_CACHE_SIZE, VerifiedTokenCache } from './verified-token-cache';

function fakeKeys() {
  let listener: (removed: string[]) => void = () => undefined;
  const keys = {
    onRingChange: (l: (removed: string[]) => void) => (listener = l),
    verificationKey: (kid: string) => (kid === 'kid' ? { kid } : undefined),
  } as unknown as KeysService;
  return { keys, change: (removed: string[]) => listener(removed) };
}

const claims = (exp: number) => ({ exp, sub: 's', jti: 'j' }) as AccessTokenClaims;

describe('VerifiedTokenCache', () => {
  it('never returns an entry at or after the token’s exp', () => {
    const sut = new VerifiedTokenCache(fakeKeys().keys);
    sut.set('t', claims(100), 'kid');
    expect(sut.get('t', 99_999)).toBeDefined();
    expect(sut.get('t', 100_000)).toBeUndefined();
    expect(sut.size).toBe(0);
  });

  it('is keyed by the whole token', () => {
    const sut = new VerifiedTokenCache(fakeKeys().keys);
    sut.set('header.payload.sig', claims(2e9), 'kid');
    expect(sut.get('header.payload.sih', 0)).toBeUndefined();
    // A real token's length: a token that ends the same (the signature kept, the claims changed)
    // is not the token that was verified.
    const signature = 'S'.repeat(342);
    const token = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${signature}`;
    sut.set(token, claims(2e9), 'kid');
    expect(sut.get(`eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.${signature}`, 0)).toBeUndefined();
    expect(sut.get(`x${token}`, 0)).toBeUndefined();
    expect(sut.get(token.slice(1), 0)).toBeUndefined();
    expect(sut.get(`${token}`.concat(''), 0)?.claims.sub).toBe('s'); // the same token still hits
  });

  it('holds only the very string it verified', () => {
    const sut = new VerifiedTokenCache(fakeKeys().keys);
    const token = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${'S'.repeat(342)}`;
    expect(sut.holds(token)).toBe(false);
    sut.set(token, claims(2e9), 'kid');
    expect(sut.holds(`${token}`.concat(''))).toBe(true);
    // The same tail, another beginning (a character the bearer check refuses): not held.
    expect(sut.holds(`eyJhbGciOiJSUzI1NiJ9.eyJzdWIi OiJhbGljZSJ9.${'S'.repeat(342)}`)).toBe(false);
  });

  it('is bounded, forgetting the oldest first', () => {
    const sut = new VerifiedTokenCache(fakeKeys().keys);
    for (let i = 0; i <= VERIFIED_TOKEN_CACHE_SIZE; i++) sut.set(`t${i}`, claims(2e9), 'kid');
    expect(sut.size).toBe(VERIFIED_TOKEN_CACHE_SIZE);
    expect(sut.get('t0', 0)).toBeUndefined();
    expect(sut.get(`t${VERIFIED_TOKEN_CACHE_SIZE}`, 0)).toBeDefined();
  });

  it('only remembers tokens signed by a key of the ring', () => {
    const sut = new VerifiedTokenCache(fakeKeys().keys);
    sut.set('t', claims(2e9), 'someone-elses-kid');
    expect(sut.size).toBe(0);
  });

  it('empties when a key is retired, not on an additive change', () => {
    const { keys, change } = fakeKeys();
    const sut = new VerifiedTokenCache(keys);
    sut.set('t', claims(2e9), 'kid');
    change([]);
    expect(sut.size).toBe(1);
    change(['kid']);
    expect(sut.size).toBe(0);
  });
});
