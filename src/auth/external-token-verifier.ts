import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { DomainError, InvalidTokenError, TokenExpiredError } from '../common/errors';
import { issuersConfig, jwtConfig, policyConfig } from '../config/configuration';
import type { TrustedIssuer } from '../config/policy/auth-policy';
import { RbacService } from '../rbac/rbac.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';
import type { Principal } from '../access/principal';
import { hasCanonicalSignature } from '../keys/jws-verify';

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** One trusted issuer's verifier state: its JWKS (fetched lazily, cached by jose). */
interface IssuerState {
  config: TrustedIssuer;
  keySet?: KeySet;
  discovering?: Promise<KeySet>;
  /** After a failed discovery or JWKS fetch, fail fast until then instead of hammering the IdP. */
  unavailableUntil: number;
}

/** Reads `emails.0` or `org.tenant_id` from a payload: objects by key, arrays by index. */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (Array.isArray(value) && /^\d+$/.test(part)) value = value[Number(part)];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      value = (value as Record<string, unknown>)[part];
    else return undefined;
  }
  return value;
}

/** A roles claim may be a list, or one string separated by spaces or commas. */
function roleList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.filter((r): r is string => typeof r === 'string' && !!r);
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return undefined;
}

/** Reads the `iss` of a compact JWS without trusting anything in it (used only to pick a verifier). */
function unverifiedIssuer(token: string): string | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first) return undefined;
  try {
    const payload = JSON.parse(
      Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'),
    ) as unknown;
    if (payload === null || typeof payload !== 'object') return undefined;
    const iss = (payload as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies tokens from the policy file's `trusted_issuers` (an Azure AD B2C tenant, Auth0, …).
 * The token's `iss` only selects the issuer entry; the signature must then verify with a key
 * from *that* issuer's JWKS, with its audience, algorithms and leeway, so a token claiming
 * issuer A but signed with issuer B's key fails. JWKS are fetched with jose's remote key set:
 * cached, refetched on an unknown `kid` at most once per JWKS_REFETCH_COOLDOWN_SECONDS, each
 * fetch abandoned after JWKS_TIMEOUT_MS. Claims are mapped (dotted paths) into a
 * {@link Principal} like any other: subject = mapped `user_id`, permissions from mapped roles.
 */
@Injectable()
export class ExternalTokenVerifier {
  private readonly logger = new Logger('TrustedIssuers');
  private readonly issuers = new Map<string, IssuerState>();

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    @Inject(issuersConfig.KEY) private readonly limits: ConfigType<typeof issuersConfig>,
    @Inject(jwtConfig.KEY) jwt: ConfigType<typeof jwtConfig>,
    private readonly rbac: RbacService,
    private readonly revocation: RevocationIndexService,
  ) {
    for (const issuer of policy.trustedIssuers) {
      if (issuer.issuer === jwt.issuer) {
        // Our own tokens are verified from our key ring, never through a JWKS fetch.
        this.logger.warn(`trusted_issuers lists JWT_ISSUER (${issuer.issuer}) itself: ignored`);
        continue;
      }
      this.issuers.set(issuer.issuer, { config: issuer, unavailableUntil: 0 });
    }
  }

  /** True when the (unverified) `iss` of `token` names a trusted issuer. Cheap: no I/O. */
  handles(token: string): boolean {
    if (this.issuers.size === 0) return false;
    const iss = unverifiedIssuer(token);
    return iss !== undefined && this.issuers.has(iss);
  }

  /**
   * Verifies a trusted issuer's token and maps it to a principal. Throws
   * {@link TokenExpiredError} or {@link InvalidTokenError}; never anything that becomes a 500.
   */
  async verify(token: string): Promise<Principal> {
    const iss = unverifiedIssuer(token);
    const state = iss === undefined ? undefined : this.issuers.get(iss);
    if (!state) throw new InvalidTokenError('issuer is not trusted');
    if (!hasCanonicalSignature(token))
      throw new InvalidTokenError('signature is not canonical base64url');
    const { config } = state;
    let principal: Principal;
    try {
      const keySet = await this.keySet(state);
      const { payload, protectedHeader } = await jwtVerify(token, keySet, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: config.leewaySeconds,
        requiredClaims: ['exp'],
      });
      principal = this.principal(config, payload, protectedHeader.kid);
    } catch (error) {
      throw this.toAuthError(error, state);
    }
    // The same revocation rules as our own tokens: by jti, and "revoked before T" for the mapped
    // user (DELETE /users/:userId/tokens also cuts off that user's tokens from this issuer).
    const iat = principal.claims.iat;
    this.revocation.assertNotRevoked({
      jti: principal.tokenId ?? '',
      iat: typeof iat === 'number' ? iat : 0,
      exp: principal.expiresAt ?? 0,
      sub: principal.subject,
      client_id: principal.clientId,
    });
    return principal;
  }

  private principal(config: TrustedIssuer, payload: JWTPayload, kid?: string): Principal {
    const claims = payload as Record<string, unknown>;
    const mapped: Record<string, unknown> = {};
    for (const [field, path] of Object.entries(config.claims)) {
      if (field === 'roles') continue;
      const value = claimAt(claims, path);
      if (value !== undefined) mapped[field] = value;
    }
    const subject = mapped.user_id;
    if (typeof subject !== 'string' || subject === '')
      throw new InvalidTokenError(`claim ${config.claims.user_id} (user_id) is missing`);
    // No roles claim at all: the policy's default_role, as for users created without roles.
    const roles = roleList(claimAt(claims, config.claims.roles ?? 'roles')) ?? [
      this.rbac.defaultRole,
    ];
    const scope = typeof claims.scope === 'string' ? claims.scope : claims.scp;
    return {
      subject,
      clientId:
        typeof claims.azp === 'string'
          ? claims.azp
          : typeof claims.client_id === 'string'
            ? claims.client_id
            : undefined,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      roles,
      method: 'jwt',
      tokenType: 'access',
      tokenId: typeof payload.jti === 'string' ? payload.jti : undefined,
      keyId: kid,
      expiresAt: payload.exp,
      claims: { ...claims, ...mapped },
    };
  }

  private async keySet(state: IssuerState): Promise<KeySet> {
    // Keys already cached keep verifying while the IdP is down; only a cold cache fails fast.
    if (Date.now() < state.unavailableUntil && !state.keySet?.jwks())
      throw new InvalidTokenError('trusted issuer keys unavailable (cooling down)');
    if (state.keySet) return state.keySet;
    if (state.config.jwksUrl) {
      state.keySet = this.remoteKeySet(state.config.jwksUrl);
      return state.keySet;
    }
    state.discovering ??= this.discover(state.config).finally(() => {
      state.discovering = undefined;
    });
    state.keySet = await state.discovering;
    return state.keySet;
  }

  /** OIDC Discovery 1.0 §4: fetched once (with a timeout); its `issuer` must be the configured one. */
  private async discover(config: TrustedIssuer): Promise<KeySet> {
    const url = `${config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(this.limits.timeoutMs) });
    if (!response.ok) throw new DiscoveryError(`${url} answered ${response.status}`);
    const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata.issuer !== config.issuer)
      throw new DiscoveryError(`${url} names issuer ${String(metadata.issuer)}`);
    if (typeof metadata.jwks_uri !== 'string') throw new DiscoveryError(`${url} has no jwks_uri`);
    return this.remoteKeySet(metadata.jwks_uri);
  }

  private remoteKeySet(url: string): KeySet {
    return createRemoteJWKSet(new URL(url), {
      timeoutDuration: this.limits.timeoutMs,
      cooldownDuration: this.limits.refetchCooldownSeconds * 1000,
      cacheMaxAge: 10 * 60 * 1000,
    });
  }

  private toAuthError(error: unknown, state: IssuerState): DomainError {
    if (error instanceof DomainError) return error;
    if (error instanceof errors.JWTExpired) return new TokenExpiredError();
    const unreachable =
      error instanceof DiscoveryError ||
      error instanceof errors.JWKSTimeout ||
      error instanceof errors.JWKSInvalid ||
      !(error instanceof errors.JOSEError);
    if (unreachable) {
      // The IdP (or its metadata) is unreachable or broken: 401 now, a log line for operators,
      // and no new fetch for the cooldown so a dead IdP does not slow every request down.
      state.unavailableUntil = Date.now() + this.limits.refetchCooldownSeconds * 1000;
      if (!state.config.jwksUrl) state.keySet = undefined;
      this.logger.warn(
        `Cannot verify tokens of ${state.config.issuer}: ${(error as Error)?.message ?? String(error)}`,
      );
      return new InvalidTokenError('trusted issuer keys unavailable');
    }
    return new InvalidTokenError((error as Error).message);
  }
}

class DiscoveryError extends Error {}
