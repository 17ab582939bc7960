import { generateKeyPairSync } from 'node:crypto';
import { decode, verify } from 'jsonwebtoken';
import type { KeysService } from '../keys/keys.service';
import type { AuditRecord, AuditService } from '../audit/audit.service';
import { MetricsService } from '../metrics/metrics.service';
import { uuidV7Millis, uuidWords } from '../revocation/revocation-index';
import { TokenService, uuidV7 } from './token.service';

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

  it("names the parent token's subject as the actor of a child renewed over HTTP, system only for the worker", () => {
    const origin = { id: 'req-renew', ip: '127.0.0.1', headers: {} };
    sut.mint({ subject: 'agent-7', clientId: 'svc', tokenType: 'child', origin });
    expect(recorded[recorded.length - 1]).toMatchObject({
      actor: 'agent-7',
      actorMethod: 'parent_token',
      details: { grant: 'child', subject: 'agent-7', client: 'svc' },
    });
    // An admin's /token-pairs first child: the admin is the actor.
    const admin = { ...origin, user: { subject: 'admin-client', method: 'jwt' } };
    sut.mint({ subject: 'agent-7', tokenType: 'child', origin: admin });
    expect(recorded[recorded.length - 1]).toMatchObject({
      actor: 'admin-client',
      actorMethod: 'jwt',
    });
    sut.mint({ subject: 'agent-7', tokenType: 'child' });
    expect(recorded[recorded.length - 1]).toMatchObject({ actor: 'system', actorMethod: 'child' });
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

  it('gives every token a UUIDv7 jti whose millisecond is in the token’s iat second', async () => {
    const before = Date.now();
    const minted = [sut.mint({ subject: 's' }), await sut.mintBatched({ subject: 's' })];
    const after = Date.now();
    for (const { jti, iat } of minted) {
      expect(jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const ms = uuidV7Millis(jti);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after);
      expect(Math.floor(ms / 1000)).toBe(iat);
    }
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

describe('uuidV7', () => {
  it('puts the 48-bit millisecond first, then version 7, the variant and random bits', () => {
    const ms = 0x0190_1234_abcd;
    const id = uuidV7(ms);
    expect(id).toMatch(/^01901234-abcd-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV7Millis(id)).toBe(ms);
    expect(uuidV7Millis(uuidV7(0))).toBe(0);
    expect(uuidV7Millis(uuidV7(2 ** 48 - 1))).toBe(2 ** 48 - 1);
    // A valid UUID, so the revocation index's compact table holds it.
    expect(uuidWords(id)).toBeDefined();
  });

  it('is random within a millisecond and sorts by time across milliseconds', () => {
    const now = Date.now();
    const same = new Set(Array.from({ length: 1000 }, () => uuidV7(now)));
    expect(same.size).toBe(1000);
    for (const id of same) expect(uuidV7Millis(id)).toBe(now);
    const newest = [...same].sort().pop()!;
    const later = [now + 1, now + 1000, now + 86_400_000].map((ms) => uuidV7(ms));
    expect([...later].sort()).toEqual(later);
    expect(later.every((id) => id > newest)).toBe(true);
  });
});
