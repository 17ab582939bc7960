import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { KeysModule } from '../keys/keys.module';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { RevocationModule } from '../revocation/revocation.module';
import { AnonymousAuthenticator } from './authenticators/anonymous.authenticator';
import { ClientCredentialsAuthenticator } from './authenticators/client-credentials.authenticator';
import { ClientsModule } from '../clients/clients.module';
import { ApiKeyAuthenticator } from './authenticators/api-key.authenticator';
import { LegacyHs256Authenticator } from './authenticators/legacy-hs256.authenticator';
import { OwnJwtAuthenticator } from './authenticators/own-jwt.authenticator';
import {
  REQUEST_AUTHENTICATORS,
  type RequestAuthenticator,
} from './authenticators/request-authenticator';
import { TrustedIssuerAuthenticator } from './authenticators/trusted-issuer.authenticator';
import { AuthorizeController } from './authorize.controller';
import { ExternalTokenVerifier } from './external-token-verifier';
import { AuthenticationGuard } from './guards/authentication.guard';
import { PermissionsGuard } from './guards/permissions.guard';
import { PrincipalFactory } from './principal.factory';
import { RouteRules } from './route-rules';
import { VerifiedTokenCache } from './verified-token-cache';

/**
 * The ways a request can authenticate, in the order the guard asks them. A credential of a kind
 * is decided by its own authenticator (an unknown API key never falls through to the JWT ways).
 */
const AUTHENTICATOR_ORDER = [
  // Only on the introspection endpoint, and only for Basic or posted client credentials.
  ClientCredentialsAuthenticator,
  ApiKeyAuthenticator,
  TrustedIssuerAuthenticator,
  // Off unless ACCEPT_LEGACY_HS256_TOKENS=true; only the shared-secret API's token shape.
  LegacyHs256Authenticator,
  OwnJwtAuthenticator,
  AnonymousAuthenticator,
];

/**
 * The check of a request. The global guards run in this order (the order of the APP_GUARD
 * providers below) for every route:
 * 1. AuthenticationGuard: the route's rule (worked out at start), then the authenticators,
 *    unless the route is `@Public()`;
 * 2. PermissionsGuard: the rule's permissions, roles and scopes (`@Authenticated({...})`);
 * 3. RateLimitGuard: the principal's budget from the policy's `rate_limits`.
 * Issuing tokens is the `oauth` module's; this one imports nothing above it.
 */
@Module({
  imports: [
    DiscoveryModule,
    KeysModule,
    RevocationModule,
    ApiKeysModule,
    RateLimitModule,
    ClientsModule,
  ],
  controllers: [AuthorizeController],
  providers: [
    RouteRules,
    PrincipalFactory,
    VerifiedTokenCache,
    ExternalTokenVerifier,
    ...AUTHENTICATOR_ORDER,
    {
      provide: REQUEST_AUTHENTICATORS,
      inject: AUTHENTICATOR_ORDER,
      useFactory: (...authenticators: RequestAuthenticator[]) => authenticators,
    },
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: PermissionsGuard },
    // One instance: the permission guard asks it for the limit headers of a 403.
    RateLimitGuard,
    { provide: APP_GUARD, useExisting: RateLimitGuard },
  ],
  exports: [PrincipalFactory, VerifiedTokenCache],
})
export class AuthModule {}
