import { Module } from '@nestjs/common';
import { JwksController } from './jwks.controller';
import { KeysController, SecretsController } from './keys.controller';
import { KeysService } from './keys.service';
import { TokenKeyResolver } from './token-key-resolver';
import { TokenVerifier } from './token-verifier';

/** Signing keys (rotation, JWKS) and the verification of a token's signature with them. */
@Module({
  controllers: [JwksController, KeysController, SecretsController],
  providers: [KeysService, TokenKeyResolver, TokenVerifier],
  exports: [KeysService, TokenKeyResolver, TokenVerifier],
})
export class KeysModule {}
