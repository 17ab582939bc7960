import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['3600s', 3600],
    ['30m', 1800],
    ['24h', 86400],
    ['7d', 604800],
    ['4w', 2419200],
    ['90', 90],
    [' 15M ', 900],
    [120, 120],
  ])('parses %p as %p seconds', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each(['', 'abc', '10y', '-5s', '0', '1.5h', 'h', '5 minutes', 0, -3, 1.5])(
    'rejects %p',
    (input) => {
      expect(parseDuration(input)).toBeUndefined();
    },
  );
});
