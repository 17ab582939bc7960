import { createHash, randomBytes } from 'node:crypto';
import { ClientSecretHasher, generateSecret } from './client-secret';

describe('ClientSecretHasher', () => {
  const sut = new ClientSecretHasher(randomBytes(32));

  it('never stores the secret itself, and keys the digest with the pepper', () => {
    const secret = generateSecret();
    const digest = sut.digest(secret);
    expect(digest).not.toContain(secret);
    expect(digest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(new ClientSecretHasher(randomBytes(32)).digest(secret)).not.toBe(digest);
    expect(digest).not.toContain(createHash('sha256').update(secret).digest('hex'));
  });

  it('matches the right secret only', () => {
    const digest = sut.digest('correct horse battery staple');
    expect(sut.verify('correct horse battery staple', digest)).toEqual({
      match: true,
      upgrade: false,
    });
    expect(sut.verify('correct horse battery stapl', digest).match).toBe(false);
    expect(sut.verify('', digest).match).toBe(false);
  });

  it('still accepts an unkeyed SHA-256 digest from before, and asks for its upgrade', () => {
    const legacy = 'sha256:' + createHash('sha256').update('hunter2').digest('hex');
    expect(sut.verify('hunter2', legacy)).toEqual({ match: true, upgrade: true });
    expect(sut.verify('hunter3', legacy)).toEqual({ match: false, upgrade: false });
  });

  it('refuses a malformed stored digest instead of throwing', () => {
    expect(sut.verify('x', 'garbage').match).toBe(false);
  });

  it('derives the same pepper from the same secret, and refuses a short one', () => {
    const key = randomBytes(32);
    expect(ClientSecretHasher.derivePepper(key)).toEqual(ClientSecretHasher.derivePepper(key));
    expect(() => new ClientSecretHasher(Buffer.alloc(8))).toThrow(/at least 32 bytes/);
  });

  it('generates distinct high-entropy secrets', () => {
    const a = generateSecret();
    expect(a).toHaveLength(43);
    expect(a).not.toBe(generateSecret());
  });
});
