import { Module } from '@nestjs/common';
import { AdminUsageController, UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/** Per-principal request counts: the example of partitioning data by `Principal.subject`. */
@Module({
  controllers: [UsageController, AdminUsageController],
  providers: [UsageService],
  exports: [UsageService],
})
export class UsageModule {}
