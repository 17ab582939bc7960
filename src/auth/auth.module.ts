import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { ClientsModule } from '../clients/clients.module';
import { KeysModule } from '../keys/keys.module';
import { RevocationModule } from '../revocation/revocation.module';
import { UsersModule } from '../users/users.module';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { AuthModes } from './auth-modes';
import { DiscoveryController } from './discovery.controller';
import { ExternalTokenVerifier } from './external-token-verifier';
import { AuthenticationGuard } from './guards/authentication.guard';
import { PermissionsGuard } from './guards/permissions.guard';
import { JwtStrategy } from './jwt.strategy';
import { LoginController } from './login.controller';
import { OAuthController } from './oauth.controller';
import { OAuthService } from './oauth.service';
import { PasswordLoginService } from './password-login.service';
import { PrincipalFactory } from './principal.factory';
import { TokenKeyResolver } from './token-key-resolver';
import { TokenService } from './token.service';
import { VerifiedTokenCache } from './verified-token-cache';

/**
 * Issues and verifies tokens. The global guards run in this order (the order of the APP_GUARD
 * providers below) for every route:
 * 1. AuthenticationGuard: an API key or a valid bearer token (ours, or a trusted issuer's),
 *    unless `@Public()`;
 * 2. PermissionsGuard: the route's `@RequirePermissions()` / `@Roles()` / `@Scopes()`;
 * 3. RateLimitGuard: the principal's budget from the policy's `rate_limits`.
 */
@Module({
  imports: [
    PassportModule,
    KeysModule,
    ClientsModule,
    UsersModule,
    RevocationModule,
    ApiKeysModule,
    RateLimitModule,
  ],
  controllers: [OAuthController, DiscoveryController, LoginController],
  providers: [
    TokenService,
    TokenKeyResolver,
    PrincipalFactory,
    JwtStrategy,
    OAuthService,
    PasswordLoginService,
    ExternalTokenVerifier,
    AuthModes,
    VerifiedTokenCache,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: PermissionsGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [
    TokenService,
    TokenKeyResolver,
    PrincipalFactory,
    VerifiedTokenCache,
    OAuthService,
    PasswordLoginService,
  ],
})
export class AuthModule {}
