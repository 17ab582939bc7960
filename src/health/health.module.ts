import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { KeysModule } from '../keys/keys.module';
import { RevocationModule } from '../revocation/revocation.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { HealthController } from './health.controller';

@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    KeysModule,
    RevocationModule,
    RateLimitModule,
  ],
  controllers: [HealthController],
})
export class HealthModule {}
