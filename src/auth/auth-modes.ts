import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { policyConfig } from '../config/configuration';
import type { Principal } from './principal';

/**
 * The policy's `modes`. With `none` (development only; the policy loader refuses it when
 * NODE_ENV=production) a request without credentials becomes the anonymous principal, holding
 * the policy's `default_role`; presented credentials are still verified.
 */
@Injectable()
export class AuthModes {
  readonly jwt: boolean;
  readonly anonymous?: Principal;

  constructor(@Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>) {
    this.jwt = policy.modes.includes('jwt');
    if (policy.modes.includes('none')) {
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
  }
}
