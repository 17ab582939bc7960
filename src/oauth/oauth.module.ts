import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ClientsModule } from '../clients/clients.module';
import { KeysModule } from '../keys/keys.module';
import { RefreshTokensModule } from '../refresh-tokens/refresh-tokens.module';
import { RevocationModule } from '../revocation/revocation.module';
import { UsersModule } from '../users/users.module';
import { DiscoveryController } from './discovery.controller';
import { LoginController } from './login.controller';
import { OAuthRevocationController } from './oauth-revocation.controller';
import { OAuthRevocationService } from './oauth-revocation.service';
import { OAuthController } from './oauth.controller';
import { OAuthService } from './oauth.service';
import { PasswordLoginService } from './password-login.service';
import { TokenService } from './token.service';

/**
 * Issuing tokens: the RFC 6749 token endpoint and its grants, password login, RFC 7009/7662,
 * OIDC discovery, and minting ({@link TokenService}, also used by the parent/child API and CLI).
 */
@Module({
  imports: [
    AuthModule,
    KeysModule,
    ClientsModule,
    UsersModule,
    RefreshTokensModule,
    RevocationModule,
  ],
  controllers: [OAuthController, LoginController, DiscoveryController, OAuthRevocationController],
  providers: [TokenService, OAuthService, PasswordLoginService, OAuthRevocationService],
  exports: [TokenService, OAuthService, PasswordLoginService],
})
export class OAuthModule {}
