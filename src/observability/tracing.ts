import type { Span, Tracer } from '@opentelemetry/api';

/**
 * OpenTelemetry tracing, loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (main.ts imports
 * this file then, before the application's modules, so the instrumentations can patch http,
 * Fastify, pg and undici as they load). Unset, nothing here is loaded: no cost per request.
 *
 * Spans: the HTTP request (http + Fastify instrumentations), the Nest handler, each global guard
 * of the chain (`guard authenticate`, `guard authorize`, `guard rate_limit`), every PostgreSQL
 * query (pg) and every upstream call (undici, i.e. `fetch`). Exported over OTLP/HTTP (JSON) to
 * `${OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, with every query string's values redacted
 * (`trace-redaction.ts`); the standard OTEL_* variables (service name,
 * sampler, batch delay, headers) apply. The SDK reads the variables itself. Traces only, unless
 * OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for more ({@link tracesOnlyByDefault}).
 *
 * @returns a function that flushes and stops the SDK (call it at shutdown).
 */
export async function startTracing(): Promise<() => Promise<void>> {
  const { NodeSDK, tracing } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { FastifyInstrumentation } = await import('@opentelemetry/instrumentation-fastify');
  const { PgInstrumentation } = await import('@opentelemetry/instrumentation-pg');
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  const { NestInstrumentation } = await import('@opentelemetry/instrumentation-nestjs-core');
  const { IncomingMessage } = await import('node:http');
  const { correlateTraces } = await import('./trace-correlation');
  const { QueryRedactingSpanProcessor } = await import('./trace-redaction');
  // The server span of each incoming request, until Fastify has given the request its id.
  const serverSpans = new WeakMap<object, Span>();
  correlateTraces((raw, requestId) => {
    const span = serverSpans.get(raw);
    if (!span) return undefined;
    span.setAttribute('tessera.request_id', requestId);
    return span.spanContext().traceId;
  });
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'tessera',
    ...tracesOnlyByDefault(process.env),
    // Query strings' values are redacted before the batch processor queues a span for export
    // (the OTEL_BSP_* variables apply to it, as to the SDK's default one).
    spanProcessors: [
      new QueryRedactingSpanProcessor(),
      new tracing.BatchSpanProcessor(new OTLPTraceExporter()),
    ],
    instrumentations: [
      new HttpInstrumentation({
        // Probes would drown the traces.
        ignoreIncomingRequestHook: (request) => (request.url ?? '').startsWith('/health'),
        requestHook: (span, request) => {
          if (request instanceof IncomingMessage) serverSpans.set(request, span);
        },
      }),
      new FastifyInstrumentation(),
      // Statement text only, never the parameters (they can hold digests and hashes).
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new UndiciInstrumentation(),
      new NestInstrumentation(),
    ],
  });
  sdk.start();
  await traceGuards();
  return () => sdk.shutdown();
}

/**
 * The SDK's own defaults would also export metrics (`OTEL_METRICS_EXPORTER` unset means `otlp`:
 * a POST to `…/v1/metrics` every 60 s and at shutdown) and set up a log exporter. Tessera's
 * metrics are Prometheus's `/metrics`, and its logs JSON on stdout; OTLP carries traces. Metrics
 * or logs go over OTLP too only when their variable says so (`OTEL_METRICS_EXPORTER=otlp`), and
 * then the SDK reads it as usual.
 */
export function tracesOnlyByDefault(env: NodeJS.ProcessEnv): {
  metricReaders?: [];
  logRecordProcessors?: [];
} {
  const unset = (name: string) => (env[name] ?? '').trim() === '';
  return {
    ...(unset('OTEL_METRICS_EXPORTER') ? { metricReaders: [] } : {}),
    ...(unset('OTEL_LOGS_EXPORTER') ? { logRecordProcessors: [] } : {}),
  };
}

/**
 * One span per global guard: the guard chain is Tessera's own work on every request, and the
 * Nest instrumentation shows only the handler. The guards' `canActivate` is wrapped once, here,
 * so the guards themselves carry no tracing code.
 */
async function traceGuards(): Promise<void> {
  const { trace, SpanStatusCode } = await import('@opentelemetry/api');
  const tracer = trace.getTracer('tessera');
  const { AuthenticationGuard } = await import('../auth/guards/authentication.guard');
  const { PermissionsGuard } = await import('../auth/guards/permissions.guard');
  const { RateLimitGuard } = await import('../rate-limit/rate-limit.guard');
  const wrap = (prototype: { canActivate: (...args: unknown[]) => unknown }, name: string) => {
    const original = prototype.canActivate;
    prototype.canActivate = function (this: unknown, ...args: unknown[]) {
      return inSpan(tracer, name, SpanStatusCode.ERROR, () => original.apply(this, args));
    };
  };
  wrap(AuthenticationGuard.prototype as never, 'guard authenticate');
  wrap(PermissionsGuard.prototype as never, 'guard authorize');
  wrap(RateLimitGuard.prototype as never, 'guard rate_limit');
}

function inSpan(tracer: Tracer, name: string, errorCode: number, work: () => unknown): unknown {
  return tracer.startActiveSpan(name, (span: Span) => {
    const fail = (error: unknown) => {
      span.recordException(error as Error);
      span.setStatus({ code: errorCode, message: (error as Error)?.name });
      span.end();
      throw error;
    };
    try {
      const result = work();
      if (result instanceof Promise)
        return result.then((value: unknown) => {
          span.end();
          return value;
        }, fail);
      span.end();
      return result;
    } catch (error) {
      return fail(error);
    }
  });
}
