import { Module } from '@nestjs/common';
import { APP_LOGGER, appLoggerProvider } from './app-logger';
import { MetricsListener } from './metrics-listener';
import { RequestObserver } from './request-observer';

/**
 * The HTTP server's observability (not part of CLI contexts): the app's logger, request ids, the
 * per-request log line, request metrics and the audit of refusals ({@link RequestObserver}), and
 * the optional unauthenticated metrics listener ({@link MetricsListener}). MetricsModule and
 * AuditModule are global.
 */
@Module({
  providers: [appLoggerProvider, RequestObserver, MetricsListener],
  exports: [APP_LOGGER],
})
export class ObservabilityModule {}
