import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAuthPolicy, parseRateLimit, PolicyError } from './auth-policy';

const parse = (text: string, production = false) => parseAuthPolicy(text, 'auth.yaml', production);

describe('auth policy file', () => {
  it('parses the shipped config/auth.yaml', () => {
    const text = readFileSync(join(__dirname, '..', '..', '..', 'config', 'auth.yaml'), 'utf8');
    const sut = parse(text);
    expect(sut.modes).toEqual(['jwt', 'api_key']);
    expect(sut.roles.map((r) => r.name)).toEqual(['admin', 'operator', 'viewer']);
    expect(sut.rateLimits.operator).toEqual({ limit: 100, window: 60, text: '100/minute' });
    expect(sut.defaultRole).toBe('operator');
    expect(sut.apiKeys).toEqual({
      header: 'X-API-Key',
      envPrefix: 'AGENT_KEY_',
      envRoles: ['operator'],
    });
  });

  it('names the line and key of a bad rate limit', () => {
    const text = 'auth:\n  rate_limits:\n    operator: "lots"\n';
    expect(() => parse(text)).toThrow(
      new PolicyError(
        'auth.yaml:3 auth.rate_limits.operator: must look like "100/minute" (second, minute, hour or day)',
      ),
    );
  });

  it('refuses mode none in production', () => {
    expect(() => parse('auth:\n  modes: [none]\n', true)).toThrow(
      /refused when NODE_ENV=production/,
    );
    expect(parse('auth:\n  modes: [none]\n').modes).toEqual(['none']);
  });

  it('refuses unknown keys, roles and a default role that does not exist', () => {
    expect(() => parse('auth:\n  rolez: []\n')).toThrow(/auth.yaml:2 auth.rolez: unknown key/);
    expect(() => parse('auth:\n  rate_limits:\n    ghost: "1/second"\n')).toThrow(
      /unknown role "ghost"/,
    );
    expect(() => parse('auth:\n  default_role: ghost\n')).toThrow(
      /auth.default_role: unknown role/,
    );
  });

  it('reports invalid YAML with its line', () => {
    expect(() => parse('auth:\n  modes: [jwt\n')).toThrow(/^auth.yaml:\d+: invalid YAML/);
  });

  it('requires an audience for a trusted issuer and maps claims', () => {
    expect(() =>
      parse('auth:\n  trusted_issuers:\n    - issuer: https://idp.example.com\n'),
    ).toThrow(/audience: is required/);
    const sut = parse(
      'auth:\n  trusted_issuers:\n    - issuer: https://idp.example.com\n      audience: api\n      claims:\n        user_id: oid\n',
    );
    expect(sut.trustedIssuers[0]).toMatchObject({
      discovery: true,
      audience: ['api'],
      algorithms: ['RS256'],
    });
    expect(sut.trustedIssuers[0].claims.user_id).toBe('oid');
  });

  it.each([
    ['100/minute', { limit: 100, window: 60 }],
    ['10/second', { limit: 10, window: 1 }],
    ['5/10minutes', { limit: 5, window: 600 }],
    ['1000/hour', { limit: 1000, window: 3600 }],
  ])('parses rate limit %p', (text, expected) => {
    expect(parseRateLimit(text)).toMatchObject(expected);
  });

  it.each(['0/minute', '10', 'ten/minute', '10/fortnight'])('rejects rate limit %p', (text) => {
    expect(parseRateLimit(text)).toBeUndefined();
  });
});
