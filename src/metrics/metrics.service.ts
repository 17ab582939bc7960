import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { droppedLogLines } from '../common/logger';
import { clusterMetricsClient } from './cluster-metrics';

/** Request latency buckets (seconds): sub-millisecond guarded routes up to slow upstream calls. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

type Observer = { observe(value: number): void };

/**
 * The Prometheus registry of this process (one per app instance, so tests can run several) and
 * the metrics of decisions taken anywhere in the app. Modules with metrics of their own state
 * (revocation index, keys, audit buffer, upstream calls) register them on {@link registry}.
 * Every metric is listed in README § Metrics.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Requests by method, route pattern (never the raw URL) and status; `_count` is the request count. */
  readonly requestDuration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP requests: latency by method, route pattern and status (the _count is the number of requests)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'tessera_tokens_issued_total',
    help: 'Tokens issued, by grant (client_credentials, password, refresh_token, login, user, pair, child, cli)',
    labelNames: ['grant'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'tessera_auth_failures_total',
    help: 'Failed authentications, by reason (not_authenticated, token_expired, invalid_token, revoked_token, invalid_client, invalid_credentials, …)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly authorizationDenials = new Counter({
    name: 'tessera_authorization_denials_total',
    help: 'Requests refused for a missing permission, by the permission required (a model the caller may not invoke: invoke:<model>)',
    labelNames: ['permission'] as const,
    registers: [this.registry],
  });

  readonly limitRefusals = new Counter({
    name: 'tessera_limit_refusals_total',
    help: 'Requests refused by a limit: rate (per-principal request rate), login (lockout), token (gateway token limit), budget (gateway spend budget)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  /** Read from the stdout writer when scraped (it exists before any app and outlives them). */
  readonly logLinesDropped = new Counter({
    name: 'tessera_log_lines_dropped_total',
    help: 'Log lines dropped because stdout was not read while 8 MiB waited (a stalled log collector)',
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });

  /** Precomputed children of requestDuration: one Map lookup per request, no label hashing. */
  private readonly requestObservers = new Map<string, Observer>();

  /** In a cluster worker: scrapes answer for every worker (the primary aggregates). */
  private readonly cluster = clusterMetricsClient(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one answered request (called once per request by the request observer). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let observer = this.requestObservers.get(key);
    if (observer === undefined) {
      observer = this.requestDuration.labels(method, route, String(status));
      this.requestObservers.set(key, observer);
    }
    observer.observe(seconds);
  }

  /** This process's metrics; in cluster mode, the whole cluster's (summed over the workers). */
  render(): Promise<string> {
    return this.cluster ? this.cluster.collect() : this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
