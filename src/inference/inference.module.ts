import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { InferenceController } from './inference.controller';
import { InferenceService } from './inference.service';

@Module({
  imports: [UsageModule],
  controllers: [InferenceController],
  providers: [InferenceService],
})
export class InferenceModule {}
