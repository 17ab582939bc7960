import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { Principal } from '../../access/principal';
import { policyConfig } from '../../config/configuration';
import { TokenVerifier, Verified } from '../../keys/token-verifier';
import { PrincipalFactory } from '../principal.factory';
import { VerifiedTokenCache } from '../verified-token-cache';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

/**
 * A bearer JWT signed by Tessera. A token already verified is taken from the
 * {@link VerifiedTokenCache}; otherwise {@link TokenVerifier} checks it (key by `kid` from the
 * in-memory ring, algorithm pinned to the key, signature, iss, aud, exp, nbf) and the result is
 * cached. Either way PrincipalFactory checks RFC 9068's required claims and revocation.
 */
@Injectable()
export class OwnJwtAuthenticator implements RequestAuthenticator {
  private readonly enabled: boolean;

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly verified: VerifiedTokenCache,
    private readonly principals: PrincipalFactory,
    private readonly tokens: TokenVerifier,
  ) {
    this.enabled = policy.modes.includes('jwt');
  }

  /**
   * Synchronous for a token verified before (the cache) and for a new one whose key the ring
   * holds; a promise only while an unknown kid is looked up.
   */
  authenticate(
    _request: unknown,
    { bearer }: PresentedCredentials,
  ): Principal | undefined | Promise<Principal> {
    if (!this.enabled || bearer === undefined) return undefined;
    const cached = this.verified.get(bearer);
    if (cached) return this.principals.fromAccessToken(cached.claims, cached.kid);
    const verified = this.tokens.verify(bearer);
    if (verified instanceof Promise) return verified.then((v) => this.accept(bearer, v));
    return this.accept(bearer, verified);
  }

  private accept(bearer: string, { claims, kid }: Verified): Principal {
    const principal = this.principals.fromAccessToken(claims, kid);
    this.verified.set(bearer, claims, kid);
    return principal;
  }
}
