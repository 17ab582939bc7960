import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { ClientsModule } from '../clients/clients.module';
import { KeysModule } from '../keys/keys.module';
import { RevocationModule } from '../revocation/revocation.module';
import { UsersModule } from '../users/users.module';
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

/**
 * Issues and verifies tokens. The global guards run in this order for every route:
 * 1. AuthenticationGuard: a valid bearer token (ours, or a trusted issuer's), unless `@Public()`;
 * 2. PermissionsGuard: the route's `@RequirePermissions()` granted by the principal's roles.
 */
@Module({
  imports: [PassportModule, KeysModule, ClientsModule, UsersModule, RevocationModule],
  controllers: [OAuthController, DiscoveryController, LoginController],
  providers: [
    TokenService,
    TokenKeyResolver,
    PrincipalFactory,
    JwtStrategy,
    OAuthService,
    PasswordLoginService,
    ExternalTokenVerifier,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: PermissionsGuard },
  ],
  exports: [TokenService, TokenKeyResolver, PrincipalFactory],
})
export class AuthModule {}
