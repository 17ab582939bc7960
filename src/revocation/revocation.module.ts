import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RefreshTokenEntity } from './refresh-token.entity';
import { RefreshTokensService } from './refresh-tokens.service';

/** The single owner of "is this token still good": refresh-token families (and revocations). */
@Module({
  imports: [TypeOrmModule.forFeature([RefreshTokenEntity])],
  providers: [RefreshTokensService],
  exports: [RefreshTokensService],
})
export class RevocationModule {}
