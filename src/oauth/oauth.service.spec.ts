import { OAuthError } from '../common/errors';
import { grantedScopes } from './oauth.service';
import { clientCredentialsFrom } from './oauth-form';

describe('grantedScopes', () => {
  const allowed = ['model:invoke', 'sync:write'];

  it('grants every allowed scope when none is requested', () => {
    expect(grantedScopes(allowed)).toEqual(allowed);
    expect(grantedScopes(allowed, '  ')).toEqual(allowed);
  });

  it('grants a requested subset, without duplicates', () => {
    expect(grantedScopes(allowed, 'sync:write sync:write')).toEqual(['sync:write']);
  });

  it('refuses a scope outside the allowed list with invalid_scope', () => {
    expect(() => grantedScopes(allowed, 'model:invoke root')).toThrow(
      new OAuthError('invalid_scope', 'Scope not allowed for this client: root'),
    );
  });

  it('refuses a malformed scope token', () => {
    expect(() => grantedScopes(allowed, 'a"b')).toThrow(/Malformed scope/);
  });
});

describe('clientCredentialsFrom', () => {
  const basic = (value: string) => 'Basic ' + Buffer.from(value).toString('base64');

  it('reads client_secret_basic with form-urlencoded parts', () => {
    expect(clientCredentialsFrom(basic('my%20client:p%3Ass'), {})).toEqual({
      clientId: 'my client',
      clientSecret: 'p:ss',
    });
  });

  it('reads client_secret_post', () => {
    expect(clientCredentialsFrom(undefined, { client_id: 'a', client_secret: 'b' })).toEqual({
      clientId: 'a',
      clientSecret: 'b',
    });
  });

  it('refuses two methods at once, and mismatched ids', () => {
    expect(() => clientCredentialsFrom(basic('a:b'), { client_secret: 'b' })).toThrow(
      /one client authentication method/,
    );
    expect(() => clientCredentialsFrom(basic('a:b'), { client_id: 'c' })).toThrow(/does not match/);
  });

  it('answers invalid_client for missing or malformed credentials', () => {
    expect(() => clientCredentialsFrom(undefined, {})).toThrow(
      expect.objectContaining({ error: 'invalid_client' }),
    );
    expect(() => clientCredentialsFrom(basic('no-colon'), {})).toThrow(
      expect.objectContaining({ error: 'invalid_client' }),
    );
    expect(() => clientCredentialsFrom(basic('%E0%A4%A:x'), {})).toThrow(
      expect.objectContaining({ error: 'invalid_client' }),
    );
  });
});
