import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ClientsModule } from '../clients/clients.module';
import { KeysModule } from '../keys/keys.module';
import { RevocationModule } from '../revocation/revocation.module';
import { ChildTokenStream } from './child-token.stream';
import { OAuthRevocationController } from './oauth-revocation.controller';
import { RenewalWorker } from './renewal.worker';
import { TokenLifecycleService } from './token-lifecycle.service';
import { TokenVerifier } from './token-verifier';
import { RevocationsAdminController } from './revocations-admin.controller';
import { TokensController } from './tokens.controller';

/**
 * The token lifecycle over HTTP: parent/child issuance and renewal, revocation endpoints,
 * introspection, external authorization. Sits above `auth` (minting, verification) and
 * `revocation` (the state); neither imports it back.
 */
@Module({
  imports: [AuthModule, RevocationModule, ClientsModule, KeysModule],
  controllers: [TokensController, OAuthRevocationController, RevocationsAdminController],
  providers: [TokenVerifier, TokenLifecycleService, ChildTokenStream, RenewalWorker],
  exports: [TokenVerifier],
})
export class TokensModule {}
