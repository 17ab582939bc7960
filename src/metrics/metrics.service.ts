import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/** The Prometheus registry of this process (one per app instance, so tests can run several). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly tokensIssued = new Counter({
    name: 'tessera_tokens_issued_total',
    help: 'Access tokens issued, by grant',
    labelNames: ['grant'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
