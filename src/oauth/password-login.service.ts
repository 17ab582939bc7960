import { Injectable } from '@nestjs/common';
import { noteCaller, type RequestInfo } from '../common/request-context';
import { InvalidCredentialsError, OAuthError, RateLimitedError } from '../common/errors';
import { RefreshTokensService } from '../refresh-tokens/refresh-tokens.service';
import { UsersService, UserView } from '../users/users.service';
import type { ClientCredentials } from '../clients/client-credentials';
import { ClientsService } from '../clients/clients.service';
import { grantedScopes, TokenResponse } from './oauth.service';
import { TokenService } from './token.service';

export interface LoginResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  claims: { oid: string; email: string; name: string | null };
}

/**
 * People's tokens: `POST /auth/login` and the RFC 6749 §4.3 password grant. A user's token has
 * `sub` = `oid` and carries `oid`, `email`, `name` and the user's roles; its refresh token keeps
 * those claims for the refresh_token grant. Credentials are checked by {@link UsersService}
 * (argon2id, constant-time answers, lockout per account and per IP).
 */
@Injectable()
export class PasswordLoginService {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokenService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly clients: ClientsService,
  ) {}

  /** `POST /auth/login`: 401 `Invalid email or password` or 429 with Retry-After when locked. */
  async login(email: string, password: string, origin?: RequestInfo): Promise<LoginResponse> {
    const user = await this.users.verifyCredentials(email, password, origin);
    if (!user) throw new InvalidCredentialsError();
    const issued = await this.issue(user, [], undefined, origin);
    return {
      access_token: issued.access_token,
      token_type: 'Bearer',
      expires_in: issued.expires_in,
      refresh_token: issued.refresh_token,
      claims: { oid: user.oid, email: user.email, name: user.name },
    };
  }

  /**
   * RFC 6749 §4.3, for a client whose grant types include `password`. Wrong email, wrong
   * password and a disabled account are all `invalid_grant`; a lockout is a 429 with
   * `Retry-After` (RFC 6749 has no code for it, so the body stays `invalid_grant`).
   */
  async passwordGrant(
    credentials: ClientCredentials,
    username: string | undefined,
    password: string | undefined,
    scope: string | undefined,
    origin?: RequestInfo,
  ): Promise<TokenResponse> {
    const client = this.clients.authenticateOrRefuse(credentials, origin);
    // The client is the caller until a person is authenticated: the request line, and the
    // user.login event of a refused password, name it.
    if (origin) noteCaller(origin, { subject: client.id, clientId: client.id });
    if (!client.grantTypes.includes('password'))
      throw new OAuthError('unauthorized_client', 'This client may not use the password grant');
    if (!username) throw new OAuthError('invalid_request', 'username is required');
    if (!password) throw new OAuthError('invalid_request', 'password is required');
    const scopes = grantedScopes(client.scopes, scope);
    let user: UserView | undefined;
    try {
      user = await this.users.verifyCredentials(username, password, origin);
    } catch (error) {
      if (error instanceof RateLimitedError) {
        throw new OAuthError(
          'invalid_grant',
          `Too many failed login attempts; retry after ${error.retryAfterSeconds} seconds`,
          429,
          { 'Retry-After': String(error.retryAfterSeconds) },
        );
      }
      throw error;
    }
    if (!user) throw new OAuthError('invalid_grant', 'Invalid username or password');
    return this.issue(user, scopes, client.id, origin);
  }

  private async issue(
    user: UserView,
    scopes: string[],
    clientId?: string,
    origin?: RequestInfo,
  ): Promise<TokenResponse & { refresh_token: string }> {
    const claims = { oid: user.oid, email: user.email, name: user.name };
    const minted = await this.tokens.mintBatched({
      subject: user.oid,
      clientId,
      scopes,
      roles: user.roles,
      extra: claims,
      grant: clientId === undefined ? 'login' : 'password',
      origin,
    });
    const { refreshToken } = await this.refreshTokens.issue({
      subject: user.oid,
      clientId,
      scopes,
      roles: user.roles,
      claims,
    });
    return {
      access_token: minted.token,
      token_type: 'Bearer',
      expires_in: minted.expiresIn,
      scope: scopes.join(' '),
      refresh_token: refreshToken,
    };
  }
}
