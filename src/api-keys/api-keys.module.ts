import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyAuthenticator } from '../auth/authenticators/api-key.authenticator';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';

/** API keys: storage, admin API, and the authenticator the global guard calls. */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  controllers: [ApiKeysController],
  providers: [ApiKeysService, ApiKeyAuthenticator],
  exports: [ApiKeysService, ApiKeyAuthenticator],
})
export class ApiKeysModule {}
