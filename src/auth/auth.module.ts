import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ClientsModule } from '../clients/clients.module';
import { KeysModule } from '../keys/keys.module';
import { RevocationModule } from '../revocation/revocation.module';
import { DiscoveryController } from './discovery.controller';
import { AuthenticationGuard } from './guards/authentication.guard';
import { PermissionsGuard } from './guards/permissions.guard';
import { JwtStrategy } from './jwt.strategy';
import { OAuthController } from './oauth.controller';
import { OAuthService } from './oauth.service';
import { PrincipalFactory } from './principal.factory';
import { TokenKeyResolver } from './token-key-resolver';
import { TokenService } from './token.service';

/**
 * Issues and verifies tokens. The global guards run in this order for every route:
 * 1. AuthenticationGuard: a valid bearer token, unless `@Public()`;
 * 2. PermissionsGuard: the route's `@RequirePermissions()` granted by the principal's roles.
 */
@Module({
  imports: [PassportModule, KeysModule, ClientsModule, RevocationModule],
  controllers: [OAuthController, DiscoveryController],
  providers: [
    TokenService,
    TokenKeyResolver,
    PrincipalFactory,
    JwtStrategy,
    OAuthService,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: PermissionsGuard },
  ],
  exports: [TokenService, TokenKeyResolver, PrincipalFactory],
})
export class AuthModule {}
