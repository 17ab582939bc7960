import { Module } from '@nestjs/common';
import { MetricsListener } from './metrics-listener';
import { RequestObserver } from './request-observer';

/**
 * The HTTP server's observability (not part of CLI contexts): request ids, the per-request log
 * line, request metrics and the audit of refusals ({@link RequestObserver}), and the optional
 * unauthenticated metrics listener ({@link MetricsListener}). MetricsModule and AuditModule are
 * global.
 */
@Module({ providers: [RequestObserver, MetricsListener] })
export class ObservabilityModule {}
