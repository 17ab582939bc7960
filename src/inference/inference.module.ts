import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { InferenceController } from './inference.controller';

@Module({ imports: [UsageModule], controllers: [InferenceController] })
export class InferenceModule {}
