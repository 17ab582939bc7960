import { generateKeyPairSync } from 'node:crypto';
import { decode, verify } from 'jsonwebtoken';
import type { KeysService } from '../keys/keys.service';
import type { AuditRecord, AuditService } from '../audit/audit.service';
import { MetricsService } from '../metrics/metrics.service';
import { TokenService } from './token.service';

describe('TokenService', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = {
    signingKey: () => ({ kid: 'kid-1', algorithm: 'RS256', key: publicKey, privateKey }),
  } as unknown as KeysService;
  const config = { issuer: 'https://issuer.test', audience: 'tessera', accessTokenTtl: 900 };
  const metrics = new MetricsService();
  const recorded: AuditRecord[] = [];
  const audit = {
    record: (event: AuditRecord) => {
      recorded.push(event);
      return Promise.resolve();
    },
  } as unknown as AuditService;
  const sut = new TokenService(config as never, keys, metrics, audit);

  it('counts and audits every token it mints (grant, subject, client, jti, kid; never the token)', async () => {
    const minted = sut.mint({ subject: 'ada', clientId: 'web', scopes: [], grant: 'password' });
    const event = recorded[recorded.length - 1];
    expect(event).toMatchObject({
      action: 'token.issue',
      outcome: 'success',
      actor: 'ada',
      target: minted.jti,
      details: { grant: 'password', subject: 'ada', client: 'web', kid: 'kid-1' },
    });
    expect(JSON.stringify(event)).not.toContain(minted.token.split('.')[2]);
    expect(await metrics.render()).toMatch(/tessera_tokens_issued_total\{grant="password"\} 1/);
    sut.mint({ subject: 'agent', tokenType: 'child' });
    expect(recorded[recorded.length - 1]).toMatchObject({
      actor: 'system',
      details: { grant: 'child' },
    });
  });

  it('mints an RFC 9068 access token with every required claim', () => {
    const minted = sut.mint({
      subject: 'svc',
      clientId: 'svc',
      scopes: ['a', 'b'],
      roles: ['operator'],
    });
    const decoded = decode(minted.token, { complete: true });
    expect(decoded?.header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'kid-1' });
    const claims = verify(minted.token, publicKey, {
      algorithms: ['RS256'],
      issuer: config.issuer,
      audience: 'tessera',
    }) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: config.issuer,
      sub: 'svc',
      aud: 'tessera',
      client_id: 'svc',
      scope: 'a b',
      roles: ['operator'],
      token_type: 'access',
    });
    expect(claims.exp).toBe((claims.iat as number) + 900);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.jti).toBe(minted.jti);
    expect(minted).toMatchObject({ kid: 'kid-1', expiresIn: 900, exp: claims.exp });
  });

  it('mints the same token with the signature batched (the token endpoint), counted and audited', async () => {
    const minted = await sut.mintBatched({ subject: 'svc', clientId: 'svc', scopes: ['a'] });
    const claims = verify(minted.token, publicKey, {
      algorithms: ['RS256'],
      issuer: config.issuer,
      audience: 'tessera',
    }) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'svc', client_id: 'svc', scope: 'a', jti: minted.jti });
    expect(decode(minted.token, { complete: true })?.header).toMatchObject({ kid: 'kid-1' });
    expect(recorded[recorded.length - 1]).toMatchObject({
      action: 'token.issue',
      target: minted.jti,
    });
  });

  it('gives every token a distinct jti', () => {
    const a = sut.mint({ subject: 's' });
    const b = sut.mint({ subject: 's' });
    expect(a.jti).not.toBe(b.jti);
  });

  it('honours expiresIn and token type, and carries extra claims', () => {
    const minted = sut.mint({
      subject: 'u',
      tokenType: 'child',
      expiresIn: 60,
      extra: { parent_jti: 'p1', network: 'mainnet' },
    });
    expect(minted.claims).toMatchObject({
      token_type: 'child',
      parent_jti: 'p1',
      network: 'mainnet',
    });
    expect(minted.exp - minted.iat).toBe(60);
  });

  it('never lets extra claims override registered ones', () => {
    const minted = sut.mint({
      subject: 'u',
      roles: ['viewer'],
      extra: { iss: 'evil', sub: 'root', roles: ['admin'], exp: 9999999999, token_type: 'access' },
    });
    expect(minted.claims).toMatchObject({ iss: config.issuer, sub: 'u', roles: ['viewer'] });
    expect(minted.claims.exp).toBe(minted.iat + 900);
  });
});
