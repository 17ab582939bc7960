import { randomUUID } from 'node:crypto';
import { looksLikeCredential } from './credential-shape';

describe('looksLikeCredential', () => {
  it('recognises signed tokens, refresh tokens and API keys', () => {
    const jwt = [
      Buffer.from('{"alg":"HS256","typ":"at+jwt"}').toString('base64url'),
      Buffer.from('{"sub":"x","jti":"y"}').toString('base64url'),
      'c2lnbmF0dXJlX2J5dGVzX2hlcmU',
    ].join('.');
    expect(looksLikeCredential(jwt)).toBe(true);
    expect(looksLikeCredential('rt_9TPnlQq229ubLdpnmxXwlTnJnLKeG51nwv')).toBe(true);
    expect(looksLikeCredential('tsk_live_-b1e1RrX6sBGGj1a4YGNaCtT7yG40dX_9k')).toBe(true);
  });

  it('leaves the identifiers Tessera issues and names alone', () => {
    for (const id of [
      randomUUID(),
      '01a252d2-f4f1-7852-aa54-3ae2b7068b57',
      'ak_02757e3be65e0098',
      'inference-gateway',
      'ada@example.com',
      'bCx2NsoXeniMduuELfpVmk1Cu1dnNJGYOU8GLXozA-Q',
      'eyJ.not-a-token',
    ])
      expect(looksLikeCredential(id)).toBe(false);
  });
});
