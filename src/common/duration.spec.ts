import { formatResetDuration, parseDuration } from './duration';

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

describe('formatResetDuration', () => {
  it.each([
    [20, '20ms'],
    [999.2, '1000ms'],
    [1000, '1s'],
    [1001, '2s'],
    [59_000, '59s'],
    [360_000, '6m0s'],
    [7_384_000, '2h3m4s'],
    [3_600_000, '1h0m0s'],
    [0, '0s'],
    [-5, '0s'],
  ])('formats %p ms as %p (OpenAI’s x-ratelimit-reset-* format)', (ms, text) => {
    expect(formatResetDuration(ms)).toBe(text);
  });
});
