import { InvalidTokenError } from '../common/errors';
import { PrincipalFactory } from './principal.factory';

describe('PrincipalFactory.fromAccessToken', () => {
  const sut = new PrincipalFactory(
    { algorithm: 'RS256', allowNonExpiringTokens: false } as never,
    {
      assertNotRevoked: () => undefined,
    } as never,
  );
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'i',
    aud: 'a',
    sub: 'svc',
    exp: now + 60,
    iat: now,
    nbf: now,
    jti: 'j1',
    client_id: 'svc',
    scope: 'model:invoke sync:write',
    roles: ['operator'],
    token_type: 'access' as const,
  };

  it('builds the principal from the claims', () => {
    expect(sut.fromAccessToken(claims, 'kid-1')).toMatchObject({
      subject: 'svc',
      clientId: 'svc',
      scopes: ['model:invoke', 'sync:write'],
      roles: ['operator'],
      method: 'jwt',
      tokenType: 'access',
      tokenId: 'j1',
      keyId: 'kid-1',
      expiresAt: now + 60,
    });
  });

  it.each(['exp', 'nbf', 'iat', 'sub', 'jti'])('requires %s', (claim) => {
    const without = { ...claims, [claim]: undefined };
    expect(() => sut.fromAccessToken(without as never)).toThrow(InvalidTokenError);
  });

  it.each(['parent', 'refresh'])('rejects a %s token where an access token is required', (type) => {
    expect(() => sut.fromAccessToken({ ...claims, token_type: type as never })).toThrow(
      InvalidTokenError,
    );
  });

  it('ignores non-string roles', () => {
    expect(sut.fromAccessToken({ ...claims, roles: ['admin', 42 as never] }).roles).toEqual([
      'admin',
    ]);
  });
});
