import { cleanDetails, text } from './audit-details';

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
