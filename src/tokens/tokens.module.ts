import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysModule } from '../keys/keys.module';
import { OAuthModule } from '../oauth/oauth.module';
import { RevocationModule } from '../revocation/revocation.module';
import { ChildTokenStream } from './child-token.stream';
import { ParentTokenMetrics } from './parent-token.metrics';
import { ParentTokensModule } from './parent-tokens.module';
import { RenewalWorker } from './renewal.worker';
import { TokenLifecycleService } from './token-lifecycle.service';
import { TokensController } from './tokens.controller';

/**
 * The jwt-auth-service API: access tokens for users, parent tokens and their self-renewing
 * children (registry, renewal worker, SSE). Sits above `oauth` (minting), `auth` (claim checks)
 * and `revocation`; none of them imports it back.
 */
@Module({
  imports: [ParentTokensModule, AuthModule, OAuthModule, RevocationModule, KeysModule],
  controllers: [TokensController],
  providers: [TokenLifecycleService, ChildTokenStream, RenewalWorker, ParentTokenMetrics],
})
export class TokensModule {}
