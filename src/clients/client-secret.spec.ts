import { digestSecret, generateSecret, secretMatches } from './client-secret';

describe('client secrets', () => {
  it('never stores the secret itself', () => {
    const secret = generateSecret();
    const digest = digestSecret(secret);
    expect(digest).not.toContain(secret);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('matches the right secret only', () => {
    const digest = digestSecret('correct horse battery staple');
    expect(secretMatches('correct horse battery staple', digest)).toBe(true);
    expect(secretMatches('correct horse battery stapl', digest)).toBe(false);
    expect(secretMatches('', digest)).toBe(false);
  });

  it('refuses a malformed stored digest instead of throwing', () => {
    expect(secretMatches('x', 'garbage')).toBe(false);
  });

  it('generates distinct high-entropy secrets', () => {
    const a = generateSecret();
    expect(a).toHaveLength(43);
    expect(a).not.toBe(generateSecret());
  });
});
