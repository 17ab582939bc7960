import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ParentTokenEntity } from './parent-token.entity';
import { ParentTokensService } from './parent-tokens.service';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokensService } from './refresh-tokens.service';
import { RevocationEntity } from './revocation.entity';
import { RevocationService } from './revocation.service';

/**
 * The single owner of "is this token still good": revocations (by jti, subject, client, parent)
 * with an in-memory index on every replica, the parent-token registry, refresh-token families.
 */
@Module({
  imports: [TypeOrmModule.forFeature([RefreshTokenEntity, RevocationEntity, ParentTokenEntity])],
  providers: [RefreshTokensService, RevocationService, ParentTokensService],
  exports: [RefreshTokensService, RevocationService, ParentTokensService],
})
export class RevocationModule {}
