import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { Principal } from '../../src/access/principal';
import { PrincipalFactory } from '../../src/auth/principal.factory';
import { RevokedTokenError } from '../../src/common/errors';
import { KeysService } from '../../src/keys/keys.service';
import { TokenVerifier } from '../../src/keys/token-verifier';
import { TokenService } from '../../src/oauth/token.service';
import { RefreshTokensService } from '../../src/refresh-tokens/refresh-tokens.service';
import { RevocationIndexService } from '../../src/revocation/revocation-index.service';
import { RevocationsService } from '../../src/revocation/revocations.service';
import { TokenLifecycleService } from '../../src/tokens/token-lifecycle.service';
import { startServices, Services } from './services';

/** Key rotation, the token lifecycle and revocation, as services against a real PostgreSQL. */
describe('key rotation, token lifecycle and revocation (services)', () => {
  let sut: Services;
  let keys: KeysService;
  let tokens: TokenService;
  let verifier: TokenVerifier;
  let principals: PrincipalFactory;
  let revocations: RevocationsService;
  let index: RevocationIndexService;

  beforeAll(async () => {
    sut = await startServices();
    keys = sut.context.get(KeysService);
    tokens = sut.context.get(TokenService);
    verifier = sut.context.get(TokenVerifier);
    principals = sut.context.get(PrincipalFactory);
    revocations = sut.context.get(RevocationsService);
    index = sut.context.get(RevocationIndexService);
  });

  afterAll(async () => {
    await sut?.close();
  });

  /** Each test mints for its own subject, so none sees another's revocations. */
  const accessFor = async (subject = `svc-${randomUUID()}`) => {
    const minted = tokens.mint({ subject, clientId: subject, roles: ['operator'] });
    const { claims, kid } = await verifier.verify(minted.token);
    return { minted, check: () => principals.fromAccessToken(claims, kid) };
  };

  describe('key rotation', () => {
    const statuses = async () => (await keys.list()).map((k) => k.status);

    it('keeps exactly one active key and one pre-published next key through rotations', async () => {
      for (const mode of ['soft', 'hard', 'soft'] as const) {
        await keys.rotate(mode);
        const now = await statuses();
        expect(now.filter((s) => s === 'active')).toHaveLength(1);
        expect(now.filter((s) => s === 'next')).toHaveLength(1);
      }
    });

    it('soft rotation keeps old tokens verifying; hard rotation retires their key', async () => {
      const before = await accessFor();
      await keys.rotate('soft');
      expect(before.check().subject).toBe(before.minted.claims.sub);
      const signer = keys.signingKey().kid;
      expect(signer).not.toBe(before.minted.kid);
      await keys.rotate('hard');
      await expect(verifier.verify(before.minted.token)).rejects.toThrow();
    });
  });

  describe('revocation', () => {
    it('revokes by jti, and the index answers without a query', async () => {
      const token = await accessFor();
      expect(token.check()).toBeDefined();
      await revocations.revokeJti(token.minted.jti, token.minted.exp, 'medium test');
      expect(() => token.check()).toThrow(RevokedTokenError);
    });

    it('revokes a subject with its refresh tokens and parents in one transaction', async () => {
      const subject = `user-${randomUUID()}`;
      const refresh = sut.context.get(RefreshTokensService);
      await refresh.issue({ subject, scopes: [], roles: ['operator'] });
      const caller: Principal = {
        subject: 'medium-admin',
        clientId: 'medium-admin',
        scopes: [],
        roles: ['admin'],
        method: 'jwt',
        claims: {},
      };
      const pair = (await sut.context
        .get(TokenLifecycleService)
        .issuePair(caller, { user_id: subject })) as { parent_jti: string };
      const outcome = await revocations.revokeSubject(subject, 'medium test');
      expect(outcome.refreshTokens).toBe(1);
      expect(outcome.entries.map((e) => e.value)).toEqual([subject, pair.parent_jti]);
      const db = sut.context.get(DataSource);
      const [parent] = (await db.query('SELECT revoked_at FROM parent_tokens WHERE jti = $1', [
        pair.parent_jti,
      ])) as Array<{ revoked_at: Date | null }>;
      expect(parent.revoked_at).not.toBeNull();
      expect(index.isRevoked({ jti: randomUUID(), sub: subject, iat: 1, exp: 2 ** 31 })).toBe(true);
    });

    it('writes nothing when something the revocation implies fails (one transaction)', async () => {
      const subject = `user-${randomUUID()}`;
      const refresh = sut.context.get(RefreshTokensService);
      await refresh.issue({ subject, scopes: [], roles: ['operator'] });
      revocations.cascade(async (_manager, revoked) => {
        if (revoked.value === subject) throw new Error('cascade failed');
      });
      await expect(revocations.revokeSubject(subject)).rejects.toThrow('cascade failed');
      const db = sut.context.get(DataSource);
      const stored = (await db.query('SELECT 1 FROM revocations WHERE value = $1', [
        subject,
      ])) as unknown[];
      const live = (await db.query(
        'SELECT 1 FROM refresh_tokens WHERE subject = $1 AND revoked_at IS NULL',
        [subject],
      )) as unknown[];
      expect(stored).toHaveLength(0);
      expect(live).toHaveLength(1);
    });
  });
});
