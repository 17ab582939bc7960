import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import { policyConfig } from '../../config/configuration';
import type { PresentedCredentials, RequestAuthenticator } from './request-authenticator';

/**
 * The policy's `none` mode (development only; the policy loader refuses it when
 * NODE_ENV=production): a request without a bearer credential becomes the anonymous principal,
 * holding the policy's `default_role`. Tried last, so presented credentials are still verified.
 */
@Injectable()
export class AnonymousAuthenticator implements RequestAuthenticator {
  private readonly anonymous?: Principal;

  constructor(@Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>) {
    if (!policy.modes.includes('none')) return;
    this.anonymous = Object.freeze({
      subject: 'anonymous',
      scopes: [],
      roles: [policy.defaultRole],
      method: 'none' as const,
      claims: Object.freeze({}),
    });
    new Logger('Auth').warn(
      `Auth mode "none" is on: requests without credentials act as role "${policy.defaultRole}". Development only.`,
    );
  }

  authenticate(_request: AuthenticatedRequest, { bearer }: PresentedCredentials) {
    return bearer === undefined ? this.anonymous : undefined;
  }
}
