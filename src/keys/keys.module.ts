import { Module } from '@nestjs/common';
import { JwksController } from './jwks.controller';
import { KeysController, SecretsController } from './keys.controller';
import { KeysService } from './keys.service';

@Module({
  controllers: [JwksController, KeysController, SecretsController],
  providers: [KeysService],
  exports: [KeysService],
})
export class KeysModule {}
