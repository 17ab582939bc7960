import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { KeysModule } from '../keys/keys.module';
import { RevocationIndexService } from './revocation-index.service';
import { RevocationEntity } from './revocation.entity';
import { RevocationsController } from './revocations.controller';
import { RevocationsService } from './revocations.service';

/**
 * The single owner of "is this token still good", in two parts: {@link RevocationIndexService}
 * keeps every replica's in-memory index in sync (the hot path reads it), and
 * {@link RevocationsService} writes revocations, with everything they imply in other modules'
 * tables (registered cascades) in the same transaction, and lists them.
 */
@Module({
  imports: [TypeOrmModule.forFeature([RevocationEntity]), KeysModule],
  controllers: [RevocationsController],
  providers: [RevocationIndexService, RevocationsService],
  exports: [RevocationIndexService, RevocationsService],
})
export class RevocationModule {}
