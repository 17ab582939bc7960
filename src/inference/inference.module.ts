import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { gatewayConfig } from '../config/configuration';
import { ModelAccess } from './model-access';
import { PriceBook } from './price-book';
import { UsageLimiter } from './usage-limiter';
import { UsageModule } from '../usage/usage.module';
import { InferenceController } from './inference.controller';
import { InferenceService } from './inference.service';

@Module({
  imports: [UsageModule],
  controllers: [InferenceController],
  providers: [
    InferenceService,
    ModelAccess,
    UsageLimiter,
    {
      provide: PriceBook,
      inject: [gatewayConfig.KEY],
      useFactory: (config: ConfigType<typeof gatewayConfig>) => new PriceBook(config.prices),
    },
  ],
})
export class InferenceModule {}
