import { Module } from '@nestjs/common';
import { UsageController } from './usage.controller';
import { UsageInterceptor } from './usage.interceptor';
import { UsageService } from './usage.service';

/** Per-principal request counts: the example of partitioning data by `Principal.subject`. */
@Module({
  controllers: [UsageController],
  providers: [UsageService, UsageInterceptor],
  exports: [UsageService, UsageInterceptor],
})
export class UsageModule {}
