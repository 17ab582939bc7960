import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RevocationModule } from '../revocation/revocation.module';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokensService } from './refresh-tokens.service';

/**
 * Refresh-token families with rotation and reuse detection. Below both the token endpoint
 * (which issues and rotates them) and users (whose disabling revokes them); a subject or client
 * revocation revokes them in its own transaction.
 */
@Module({
  imports: [TypeOrmModule.forFeature([RefreshTokenEntity]), RevocationModule],
  providers: [RefreshTokensService],
  exports: [RefreshTokensService],
})
export class RefreshTokensModule {}
