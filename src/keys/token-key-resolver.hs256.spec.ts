import { MisconfiguredError } from '../common/errors';
import type { KeysService } from './keys.service';
import { sharedSecretKey } from './shared-secret';
import { TokenKeyResolver } from './token-key-resolver';
import { signAccessToken } from '../oauth/token.service';

const config = {
  issuer: 'http://localhost:3000',
  audience: 'tessera',
  algorithm: 'HS256',
} as ConstructorParameters<typeof TokenKeyResolver>[0];

describe('TokenKeyResolver in HS256 mode', () => {
  const key = sharedSecretKey('s'.repeat(32));
  const token = signAccessToken(key, config, { subject: 'x' }, 60).token;

  it('answers Authentication system misconfigured (a 500) when no shared secret is usable', () => {
    const keys = { symmetric: true, isReady: false } as unknown as KeysService;
    const sut = new TokenKeyResolver(config, keys);
    expect(() => sut.resolve(token)).toThrow(MisconfiguredError);
    expect(() => sut.resolve(token)).toThrow('Authentication system misconfigured');
  });

  it('resolves the shared key by its kid when the secret is loaded', () => {
    const keys = {
      symmetric: true,
      isReady: true,
      verificationKey: (kid: string) => (kid === key.kid ? key : undefined),
    } as unknown as KeysService;
    const sut = new TokenKeyResolver(config, keys);
    expect(sut.resolve(token)).toMatchObject({ kid: key.kid });
  });
});
