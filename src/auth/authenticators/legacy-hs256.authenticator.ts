import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { KeyObject } from 'node:crypto';
import { JsonWebTokenError, TokenExpiredError as JwtExpiredError, verify } from 'jsonwebtoken';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import { holderOf, InvalidTokenError, TokenExpiredError } from '../../common/errors';
import { jwtConfig, policyConfig } from '../../config/configuration';
import { sharedSecretKey } from '../../keys/shared-secret';
import { hasCanonicalSignature } from '../../keys/jws-verify';
import { RevocationIndexService } from '../../revocation/revocation-index.service';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

/** The shared-secret API's tokens: `{"alg":"HS256","typ":"JWT"}`, `sub`, `iat`, maybe `exp`. */
interface LegacyClaims {
  sub: string;
  iat: number;
  exp?: number;
}

/** Members that make a token Tessera-shaped (or another issuer's), never a legacy one. */
const NOT_LEGACY = ['iss', 'aud', 'jti', 'token_type'];

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `ACCEPT_LEGACY_HS256_TOKENS=true` (HS256 mode only, off by default): a migration aid that
 * accepts the shared-secret API's existing tokens as they are — header
 * `{"alg":"HS256","typ":"JWT"}` without `kid`, claims `sub`, `iat` and an optional `exp`, no
 * `iss`, `aud` or `jti` — as the policy's default role.
 *
 * The risk, which is why it is off and warned about at start: such a token names no issuer and
 * no audience, so any token any service signs with the same secret is accepted here; without
 * `exp` it never expires; without `jti` it cannot be revoked alone (revoking its subject works).
 * Re-issue with `npx tessera token` and turn it off.
 */
@Injectable()
export class LegacyHs256Authenticator implements RequestAuthenticator {
  private readonly key?: KeyObject;
  private readonly kid?: string;
  private readonly defaultRole: string;

  constructor(
    @Inject(jwtConfig.KEY) config: ConfigType<typeof jwtConfig>,
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly revocation: RevocationIndexService,
  ) {
    this.defaultRole = policy.defaultRole;
    if (!config.acceptLegacyHs256Tokens || config.algorithm !== 'HS256' || !config.secretKey)
      return;
    const shared = sharedSecretKey(config.secretKey);
    this.key = shared.key;
    this.kid = shared.kid;
    new Logger('Auth').warn(
      'ACCEPT_LEGACY_HS256_TOKENS is on: tokens with only sub/iat/exp signed with JWT_SECRET_KEY ' +
        `are accepted as role "${policy.defaultRole}" (no issuer, audience or jti checks). ` +
        'A migration aid: re-issue tokens with `npx tessera token`, then turn it off.',
    );
  }

  authenticate(
    _request: AuthenticatedRequest,
    { bearer }: PresentedCredentials,
  ): Principal | undefined {
    if (!this.key || bearer === undefined) return undefined;
    const parts = bearer.split('.');
    if (parts.length !== 3) return undefined;
    const header = decodeSegment(parts[0]);
    const payload = decodeSegment(parts[1]);
    // Only the legacy shape is decided here; anything else goes on to Tessera's own checks.
    if (!header || !payload) return undefined;
    if (header.alg !== 'HS256' || header.kid !== undefined || header.crit !== undefined)
      return undefined;
    if (header.typ !== undefined && header.typ !== 'JWT') return undefined;
    if (NOT_LEGACY.some((member) => member in payload)) return undefined;
    if (!hasCanonicalSignature(bearer))
      throw new InvalidTokenError('signature is not canonical base64url');
    let claims: LegacyClaims;
    try {
      claims = verify(bearer, this.key, { algorithms: ['HS256'] }) as LegacyClaims;
    } catch (error) {
      // jsonwebtoken checks exp only after the signature verified: the payload is the holder's.
      if (error instanceof JwtExpiredError) throw new TokenExpiredError(holderOf(payload));
      throw new InvalidTokenError(error instanceof JsonWebTokenError ? error.message : 'invalid');
    }
    if (typeof claims.sub !== 'string' || claims.sub === '')
      throw new InvalidTokenError('missing sub');
    if (typeof claims.iat !== 'number') throw new InvalidTokenError('missing iat');
    if (claims.exp !== undefined && typeof claims.exp !== 'number')
      throw new InvalidTokenError('exp is not a number');
    // "Revoked before" for the subject still applies (there is no jti to revoke alone).
    this.revocation.assertNotRevoked({
      jti: '',
      iat: claims.iat,
      exp: claims.exp ?? Number.MAX_SAFE_INTEGER,
      sub: claims.sub,
    });
    return Object.freeze({
      subject: claims.sub,
      scopes: [],
      roles: [this.defaultRole],
      method: 'jwt' as const,
      tokenType: 'access' as const,
      keyId: this.kid,
      expiresAt: claims.exp,
      claims: Object.freeze({ ...claims, legacy_hs256: true }),
    });
  }
}
