import { Controller, Get, Inject } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ApiTags } from '@nestjs/swagger';
import { jwtConfig } from '../config/configuration';
import { REGISTERED_CLAIMS } from '../access/access-token';
import { Public } from '../access/authenticated.decorator';

/** OpenID Connect Discovery 1.0 / RFC 8414 metadata, so standard clients configure themselves. */
@ApiTags('discovery')
@Controller('.well-known')
@Public()
export class DiscoveryController {
  constructor(@Inject(jwtConfig.KEY) private readonly config: ConfigType<typeof jwtConfig>) {}

  @Get(['openid-configuration', 'oauth-authorization-server'])
  metadata() {
    const base = this.config.issuer.replace(/\/+$/, '');
    const algorithms = this.config.algorithm === 'HS256' ? ['HS256'] : ['RS256', 'PS256', 'ES256'];
    return {
      issuer: this.config.issuer,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}/oauth/token`,
      revocation_endpoint: `${base}/oauth/revoke`,
      introspection_endpoint: `${base}/oauth/introspect`,
      grant_types_supported: ['client_credentials', 'password', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: algorithms,
      token_endpoint_auth_signing_alg_values_supported: algorithms,
      scopes_supported: ['model:invoke'],
      claims_supported: [...REGISTERED_CLAIMS, 'parent_jti', 'oid', 'email', 'name'],
    };
  }
}
