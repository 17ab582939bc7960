import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AuthenticatedRequest, Principal } from '../../access/principal';
import type { RequestAuthenticator } from './request-authenticator';
import { InvalidTokenError } from '../../common/errors';
import { policyConfig } from '../../config/configuration';
import { API_KEY_PREFIX } from '../../api-keys/api-key-secret';
import { ApiKeysService } from '../../api-keys/api-keys.service';

/**
 * Finds an API key in a request, in the policy's header (default `X-API-Key`) or as
 * `Authorization: Bearer <key>`. A bearer value is a key when it starts with `tsk_` or has no dot
 * (a JWT always has two). Tried first, before the JWT ways.
 */
@Injectable()
export class ApiKeyAuthenticator implements RequestAuthenticator {
  private readonly header: string;
  readonly enabled: boolean;

  constructor(
    @Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>,
    private readonly keys: ApiKeysService,
  ) {
    this.header = policy.apiKeys.header.toLowerCase();
    this.enabled = policy.modes.includes('api_key');
  }

  /**
   * The principal of the presented key; undefined when the request carries no API key (or the
   * `api_key` mode is off); an unknown or revoked key is a 401, never a fall-through.
   */
  authenticate(request: AuthenticatedRequest): Principal | undefined {
    if (!this.enabled) return undefined;
    const presented = this.presented(request);
    if (presented === undefined) return undefined;
    const principal = this.keys.verify(presented);
    if (!principal) throw new InvalidTokenError('unknown or revoked API key');
    return principal;
  }

  private presented(request: AuthenticatedRequest): string | undefined {
    const value = request.headers[this.header];
    if (typeof value === 'string' && value !== '') return value.trim();
    const authorization = request.headers.authorization;
    if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return undefined;
    const credential = authorization.slice(7).trim();
    if (credential.startsWith(API_KEY_PREFIX.slice(0, 4)) || !credential.includes('.'))
      return credential;
    return undefined;
  }
}
