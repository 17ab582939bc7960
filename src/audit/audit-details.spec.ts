import { beforeAfter, cleanDetails, isSecretKey, text } from './audit-details';

describe('cleanDetails', () => {
  it('keeps what JSON keeps: toJSON applied, undefined and functions out, non-finite numbers null', () => {
    const at = new Date('2026-11-25T12:00:00.000Z');
    const input = {
      at,
      gone: undefined,
      fn: () => 1,
      n: 1.5,
      inf: Infinity,
      list: [1, undefined, () => 2],
      ok: true,
      none: null,
    };
    expect(cleanDetails(input, 0)).toEqual(JSON.parse(JSON.stringify(input)));
    expect(cleanDetails(input, 0)).toEqual({
      at: '2026-11-25T12:00:00.000Z',
      n: 1.5,
      inf: null,
      list: [1, null, null],
      ok: true,
      none: null,
    });
  });

  it('redacts secret-named keys at any depth, in arrays too', () => {
    const input = {
      client_secret: 's3cret',
      before: { nested: { password: 'p', apiKey: 'k', name: 'kept' } },
      items: [{ token: 't', id: 1 }],
      Authorization: 'Bearer x',
    };
    expect(cleanDetails(input, 0)).toEqual({
      client_secret: '[redacted]',
      before: { nested: { password: '[redacted]', apiKey: '[redacted]', name: 'kept' } },
      items: [{ token: '[redacted]', id: 1 }],
      Authorization: '[redacted]',
    });
  });

  it('redacts real secrets only: limits, types and counters named after tokens or keys are kept', () => {
    const input = {
      token_limit: '20000/day',
      token_type: 'access',
      refresh_tokens_revoked: 3,
      tokenLimit: '5/month',
      prompt_tokens: 12,
      token_type_hint: 'refresh_token',
      kid: 'k1',
      key_id: 'ak_1',
      api_key_name: 'batch',
      parent_jti: 'j1',
      before: { token_limit: null },
      after: { token_limit: '20000/day' },
    };
    expect(cleanDetails(input, 0)).toEqual(input);
  });

  it.each([
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'parent_token',
    'childToken',
    'accesstoken',
    'secret',
    'client_secret',
    'clientSecret',
    'secret_hash',
    'secretDigest',
    'password',
    'passwordHash',
    'new-password',
    'key',
    'api_key',
    'apiKey',
    'APIKey',
    'apikey',
    'x-api-key',
    'private_key',
    'privateKeyPem',
    'authorization',
    'Authorization',
    'cookie',
    'Set-Cookie',
    'credentials',
    'client_assertion',
    'jwt',
  ])('redacts %s', (key) => {
    expect(isSecretKey(key)).toBe(true);
    expect(cleanDetails({ [key]: 'value' }, 0)).toEqual({ [key]: '[redacted]' });
  });

  it('removes NUL characters and replaces lone surrogates, in keys and values; keeps pairs', () => {
    expect(cleanDetails({ 'a\u0000b': 'c\u0000d', lone: 'x\uD800y', pair: 'ok 😀' }, 0)).toEqual({
      ab: 'cd',
      lone: 'x\uFFFDy',
      pair: 'ok 😀',
    });
  });

  it('throws on what JSON.stringify refuses: a BigInt, a cycle', () => {
    expect(() => cleanDetails({ n: 1n }, 0)).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => cleanDetails(cycle, 0)).toThrow(RangeError);
  });
});

describe('text', () => {
  it('is null for nothing, cleaned and at most 500 characters otherwise', () => {
    expect(text(undefined)).toBeNull();
    expect(text('a\u0000b')).toBe('ab');
    expect(text('x'.repeat(600))).toHaveLength(500);
  });
});

describe('beforeAfter', () => {
  it('keeps only the fields an update changed (updatedAt aside), null for one that appeared', () => {
    const before = { id: 'c', name: 'Old', roles: ['a'], budget: null, updatedAt: 1 };
    const after = { id: 'c', name: 'New', roles: ['a'], budget: '5/month', updatedAt: 2 };
    expect(beforeAfter(before, after)).toEqual({
      before: { name: 'Old', budget: null },
      after: { name: 'New', budget: '5/month' },
    });
    expect(beforeAfter(before, { ...before, updatedAt: 3 })).toEqual({ before: {}, after: {} });
  });

  it('gives a create its whole after, a delete its whole before and after null', () => {
    expect(beforeAfter(undefined, { id: 'c' })).toEqual({ after: { id: 'c' } });
    expect(beforeAfter(undefined, {})).toEqual({});
    expect(beforeAfter({ id: 'c' }, undefined)).toEqual({ before: { id: 'c' }, after: null });
    expect(beforeAfter({ id: 'c' }, { id: 'd' }, (b, a) => b.id === a.id)).toEqual({
      before: { id: 'c' },
      after: null,
    });
  });
});
