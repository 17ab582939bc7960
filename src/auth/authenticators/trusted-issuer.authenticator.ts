import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import { policyConfig } from '../../config/configuration';
import { ExternalTokenVerifier } from '../external-token-verifier';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

/**
 * A bearer JWT whose (unverified) `iss` names one of the policy's trusted issuers, verified with
 * that issuer's JWKS by {@link ExternalTokenVerifier}. Every other bearer token is left to
 * Tessera's own JWT authenticator. Part of the `jwt` mode.
 */
@Injectable()
export class TrustedIssuerAuthenticator implements RequestAuthenticator {
  private readonly enabled: boolean;

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly external: ExternalTokenVerifier,
  ) {
    this.enabled = policy.modes.includes('jwt');
  }

  authenticate(
    _request: AuthenticatedRequest,
    { bearer }: PresentedCredentials,
  ): Promise<Principal> | undefined {
    if (!this.enabled || bearer === undefined || !this.external.handles(bearer)) return undefined;
    return this.external.verify(bearer);
  }
}
