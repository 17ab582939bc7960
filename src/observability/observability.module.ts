import { Module } from '@nestjs/common';
import { RequestObserver } from './request-observer';

/**
 * Request ids, the per-request log line, request metrics and the audit of refusals (see
 * {@link RequestObserver}). MetricsModule and AuditModule are global.
 */
@Module({ providers: [RequestObserver] })
export class ObservabilityModule {}
