import { randomUUID } from 'node:crypto';
import { InvalidTokenError, RevokedTokenError, TokenExpiredError } from '../common/errors';
import type { RevocationIndexService } from '../revocation/revocation-index.service';
import { AccessTokenClaims } from '../access/access-token';
import { PrincipalFactory } from './principal.factory';

const now = Math.floor(Date.now() / 1000);

function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    iss: 'http://tessera.test',
    aud: 'tessera',
    sub: 'agent-7',
    iat: now,
    nbf: now,
    exp: now + 60,
    jti: randomUUID(),
    roles: ['operator'],
    scope: 'model:invoke',
    token_type: 'access',
    ...overrides,
  };
}

describe('PrincipalFactory', () => {
  const revoked = new Set<string>();
  const revocation = {
    assertNotRevoked: (token: { jti: string; parent_jti?: unknown }) => {
      if (revoked.has(token.jti) || revoked.has(String(token.parent_jti)))
        throw new RevokedTokenError();
    },
  } as unknown as RevocationIndexService;
  const sut = new PrincipalFactory(
    { algorithm: 'RS256', allowNonExpiringTokens: false } as never,
    revocation,
  );

  it('builds the principal of a good access token', () => {
    const principal = sut.fromAccessToken(claims(), 'kid-1');
    expect(principal).toMatchObject({
      subject: 'agent-7',
      scopes: ['model:invoke'],
      keyId: 'kid-1',
    });
  });

  it('refuses a parent where an access token is expected', () => {
    expect(() => sut.fromAccessToken(claims({ token_type: 'parent' }))).toThrow(InvalidTokenError);
  });

  it('refuses a child without parent_jti and a child whose parent has expired', () => {
    expect(() => sut.fromAccessToken(claims({ token_type: 'child' }))).toThrow(InvalidTokenError);
    expect(() =>
      sut.fromAccessToken(
        claims({ token_type: 'child', parent_jti: randomUUID(), parent_exp: now - 1 }),
      ),
    ).toThrow(TokenExpiredError);
  });

  it('refuses a revoked token and a child of a revoked parent', () => {
    const token = claims();
    revoked.add(token.jti);
    expect(() => sut.fromAccessToken(token)).toThrow(RevokedTokenError);
    const parent = randomUUID();
    revoked.add(parent);
    expect(() =>
      sut.fromAccessToken(
        claims({ token_type: 'child', parent_jti: parent, parent_exp: now + 60 }),
      ),
    ).toThrow(RevokedTokenError);
  });
});
