import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RevocationModule } from '../revocation/revocation.module';
import { ParentTokenEntity } from './parent-token.entity';
import { ParentTokensService } from './parent-tokens.service';

/**
 * The parent-token registry on its own, so whatever revokes tokens (the app, `tessera revoke`)
 * loads its revocation cascade: a revoked parent stops renewing, its children fall with it.
 */
@Module({
  imports: [TypeOrmModule.forFeature([ParentTokenEntity]), RevocationModule],
  providers: [ParentTokensService],
  exports: [ParentTokensService],
})
export class ParentTokensModule {}
