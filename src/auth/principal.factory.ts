import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { holderOf, InvalidTokenError, TokenExpiredError } from '../common/errors';
import { jwtConfig } from '../config/configuration';
import { RevocationIndexService } from '../revocation/revocation-index.service';
import { AccessTokenClaims } from '../access/access-token';
import { Principal } from '../access/principal';

/**
 * Checks the claims a signature check does not (RFC 9068 §4: exp, sub, jti, iat, nbf must be
 * there; parents and refresh tokens are not access tokens), checks revocation (by jti, parent,
 * subject, client: an in-memory lookup, no I/O) and builds the {@link Principal}. Every verified
 * token goes through here, cached or not, so revocation is checked on every request.
 */
@Injectable()
export class PrincipalFactory {
  /** Only the HS256 shared-secret mode, and only when asked: tokens without `exp`. */
  private readonly expOptional: boolean;

  constructor(
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    private readonly revocation: RevocationIndexService,
  ) {
    this.expOptional = config.algorithm === 'HS256' && config.allowNonExpiringTokens;
  }

  fromAccessToken(claims: AccessTokenClaims, keyId?: string): Principal {
    if (typeof claims.exp !== 'number' && !(this.expOptional && claims.exp === undefined))
      throw new InvalidTokenError('missing exp');
    if (typeof claims.nbf !== 'number') throw new InvalidTokenError('missing nbf');
    if (typeof claims.iat !== 'number') throw new InvalidTokenError('missing iat');
    if (typeof claims.sub !== 'string' || claims.sub === '')
      throw new InvalidTokenError('missing sub');
    if (typeof claims.jti !== 'string' || claims.jti === '')
      throw new InvalidTokenError('missing jti');
    const tokenType = claims.token_type ?? 'access';
    if (tokenType !== 'access' && tokenType !== 'child') {
      throw new InvalidTokenError(`a ${tokenType} token is not an access token`);
    }
    if (tokenType === 'child') {
      if (typeof claims.parent_jti !== 'string' || claims.parent_jti === '')
        throw new InvalidTokenError('child token without parent_jti');
      // A child never outlives its parent: it carries the parent's exp, signed.
      if (typeof claims.parent_exp === 'number' && claims.parent_exp * 1000 <= Date.now())
        throw new TokenExpiredError(holderOf(claims));
    }
    this.revocation.assertNotRevoked(claims);
    const roles = Array.isArray(claims.roles)
      ? claims.roles.filter((r): r is string => typeof r === 'string')
      : [];
    const scopes = typeof claims.scope === 'string' && claims.scope ? claims.scope.split(' ') : [];
    return {
      subject: claims.sub,
      clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
      scopes,
      roles,
      method: 'jwt',
      tokenType,
      tokenId: claims.jti,
      keyId,
      expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
      claims,
    };
  }
}
