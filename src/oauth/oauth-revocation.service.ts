import { Injectable } from '@nestjs/common';
import { PrincipalFactory } from '../auth/principal.factory';
import { ClientsService } from '../clients/clients.service';
import { DomainError, OAuthError } from '../common/errors';
import { TokenVerifier } from '../keys/token-verifier';
import { RefreshTokensService } from '../refresh-tokens/refresh-tokens.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';
import { RevocationsService } from '../revocation/revocations.service';
import type { ClientCredentials } from '../clients/client-credentials';
import { noteCaller, type RequestInfo } from '../common/request-context';
import { noteAuditTarget } from '../audit/audit.interceptor';

const now = () => Math.floor(Date.now() / 1000);

/** RFC 7009 revocation and RFC 7662 introspection, as the token endpoint's companions. */
@Injectable()
export class OAuthRevocationService {
  constructor(
    private readonly clients: ClientsService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly verifier: TokenVerifier,
    private readonly revocations: RevocationsService,
    private readonly index: RevocationIndexService,
    private readonly principals: PrincipalFactory,
  ) {}

  /**
   * RFC 7009: the client authenticates and may revoke only tokens issued to it. Unknown,
   * malformed or already expired tokens answer 200 all the same (§2.2), so the endpoint tells a
   * caller nothing about tokens it does not hold.
   */
  async revoke(
    credentials: ClientCredentials,
    token: string | undefined,
    origin?: RequestInfo,
  ): Promise<void> {
    const client = this.clients.authenticateOrRefuse(credentials, origin);
    // The audit event's actor and the request line's caller: the client that revoked.
    if (origin) noteCaller(origin, { subject: client.id, clientId: client.id });
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    if (token.startsWith('rt_')) {
      const outcome = await this.refreshTokens.revokeFamily(token, client.id);
      if (outcome === 'other-client')
        throw new OAuthError('unauthorized_client', 'The token was not issued to this client');
      return;
    }
    const verified = await this.verifier.tryVerify(token, { ignoreExpiration: true });
    if (!verified || verified.claims.exp <= now()) return;
    if (origin) noteAuditTarget(origin, verified.claims.jti);
    if (verified.claims.client_id !== client.id)
      throw new OAuthError('unauthorized_client', 'The token was not issued to this client');
    await this.revocations.revokeJti(verified.claims.jti, verified.claims.exp, 'oauth/revoke');
  }

  /** RFC 7662: `active: false` for anything revoked, expired, unknown or not ours. */
  async introspect(token: string | undefined): Promise<Record<string, unknown>> {
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    const verified = await this.verifier.tryVerify(token);
    if (!verified) return { active: false };
    const { claims, kid } = verified;
    try {
      if (claims.token_type === 'parent') this.index.assertNotRevoked(claims);
      else this.principals.fromAccessToken(claims, kid);
    } catch (error) {
      if (error instanceof DomainError) return { active: false };
      throw error;
    }
    return {
      ...claims,
      active: true,
      token_type: 'Bearer',
      tessera_token_type: claims.token_type ?? 'access',
    };
  }
}
