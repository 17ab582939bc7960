import { grantClaims } from '../config/policy/usage-limits';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { OAuthError } from '../common/errors';
import type { RequestInfo } from '../common/request-context';
import type { ClientCredentials } from '../clients/client-credentials';
import { ClientsService } from '../clients/clients.service';
import { MetricsService } from '../metrics/metrics.service';
import {
  RefreshTokenRefused,
  RefreshTokensService,
} from '../refresh-tokens/refresh-tokens.service';
import { UsersService } from '../users/users.service';
import { MintRequest, TokenService } from './token.service';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** RFC 6749 §3.3 scope tokens: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The token endpoint's logic: client authentication, grants, scopes (RFC 6749). */
@Injectable()
export class OAuthService {
  constructor(
    private readonly clients: ClientsService,
    private readonly tokens: TokenService,
    private readonly metrics: MetricsService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly users: UsersService,
    private readonly audit: AuditService,
  ) {}

  /**
   * A token request refused for its grant — a bad, consumed (its family then revoked) or expired
   * refresh token, a scope the client may not have, a grant it may not use, a missing parameter —
   * is audited as `token.issue`, failure, with the OAuth error and why. Not the refusals audited
   * where they are decided: a refused client (`client.authenticate`, with its reason) and a
   * refused password or a lockout (`user.login`).
   */
  recordRefusal(
    grant: string | undefined,
    error: OAuthError,
    clientId: string | undefined,
    origin?: RequestInfo,
  ): void {
    if (error.error === 'invalid_client') return;
    if (grant === 'password' && error.error === 'invalid_grant') return;
    const refused = error instanceof RefreshTokenRefused ? error : undefined;
    void this.audit.record({
      action: 'token.issue',
      outcome: 'failure',
      actor: clientId ?? refused?.subject,
      actorMethod: clientId ? 'client_secret' : undefined,
      target: refused?.subject,
      request: origin,
      details: {
        grant: grant ?? null,
        error: error.error,
        reason: error.description,
        ...(clientId ? { client: clientId } : {}),
        ...(refused?.familyRevoked ? { family_revoked: true } : {}),
      },
    });
  }

  /** RFC 6749 §4.4: client credentials. Scope defaults to everything the client is allowed. */
  async clientCredentials(
    credentials: ClientCredentials,
    scope?: string,
    origin?: RequestInfo,
  ): Promise<TokenResponse> {
    const client = this.clients.authenticateOrRefuse(credentials, origin);
    if (!client.grantTypes.includes('client_credentials')) {
      throw new OAuthError(
        'unauthorized_client',
        'This client may not use the client_credentials grant',
      );
    }
    const scopes = grantedScopes(client.scopes, scope);
    return this.issue('client_credentials', {
      subject: client.id,
      clientId: client.id,
      scopes,
      roles: client.roles,
      // The client's gateway narrowing (models, own limits) travels with its tokens.
      extra: grantClaims(client),
      origin,
    });
  }

  /**
   * RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14): the client authenticates, the
   * presented refresh token is consumed and a new one returned with the access token. A consumed
   * token presented again revokes its whole family and answers `invalid_grant`. A narrower
   * `scope` may be asked for; the grant keeps its own scopes for the next refresh.
   */
  async refreshToken(
    credentials: ClientCredentials | undefined,
    refreshToken: string,
    scope?: string,
    origin?: RequestInfo,
  ): Promise<TokenResponse> {
    const client = credentials ? this.clients.authenticateOrRefuse(credentials, origin) : undefined;
    const grant = await this.refreshTokens.rotate(refreshToken, client?.id);
    let roles = grant.roles;
    if (typeof grant.claims?.oid === 'string') {
      // A person's grant: the user must still exist and be enabled, with today's roles.
      const user = await this.users.findActive(grant.claims.oid);
      if (!user) {
        await this.refreshTokens.revokeFamilyById(grant.familyId);
        throw new OAuthError('invalid_grant', 'The user of this refresh token is disabled or gone');
      }
      roles = user.roles;
    }
    const scopes = grantedScopes(grant.scopes, scope);
    const response = await this.issue('refresh_token', {
      subject: grant.subject,
      clientId: grant.clientId,
      scopes,
      roles,
      extra: grant.claims,
      origin,
    });
    return { ...response, refresh_token: grant.refreshToken };
  }

  /** Mints the access token of a grant (TokenService counts and audits it). */
  private async issue(
    grantType: string,
    request: MintRequest & { scopes: string[] },
  ): Promise<TokenResponse> {
    const minted = await this.tokens.mintBatched({ ...request, grant: grantType });
    const scope = request.scopes.join(' ');
    return {
      access_token: minted.token,
      token_type: 'Bearer',
      expires_in: minted.expiresIn,
      scope,
    };
  }
}

/** Every requested scope must be one the client is allowed (RFC 6749 §3.3); none requested means all. */
export function grantedScopes(allowed: string[], requested?: string): string[] {
  if (requested === undefined || requested.trim() === '') return [...allowed];
  const wanted = [...new Set(requested.trim().split(/ +/))];
  const malformed = wanted.find((s) => !SCOPE_TOKEN.test(s));
  if (malformed) throw new OAuthError('invalid_scope', `Malformed scope "${malformed}"`);
  const denied = wanted.filter((s) => !allowed.includes(s));
  if (denied.length)
    throw new OAuthError('invalid_scope', `Scope not allowed for this client: ${denied.join(' ')}`);
  return wanted;
}
