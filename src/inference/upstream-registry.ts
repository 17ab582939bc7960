import { Pool } from 'undici';
import { compileGlobs } from '../config/policy/gateway-policy';

export interface UpstreamConfig {
  name: string;
  url: string;
  apiKey?: string;
  models: string[];
  timeoutMs: number;
}

/** One upstream model server with its own keep-alive connection pool. */
export class Upstream {
  readonly name: string;
  readonly timeoutMs: number;
  readonly pool: Pool;
  /** The URL's path (a server mounted under `/openai`), prepended to `/v1/...`. */
  readonly basePath: string;
  /** `Bearer <key>`, or undefined when the upstream takes none. Never logged. */
  readonly authorization?: string;
  readonly serves: (model: string) => boolean;

  constructor(config: UpstreamConfig) {
    const url = new URL(config.url);
    this.name = config.name;
    this.timeoutMs = config.timeoutMs;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.authorization = config.apiKey ? `Bearer ${config.apiKey}` : undefined;
    this.serves = compileGlobs(config.models);
    // A dedicated pool per upstream: keep-alive connections reused across requests (a new TCP
    // connection per call would add more than the whole latency budget of the proxy).
    this.pool = new Pool(url.origin, {
      connections: 256,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  }
}

/**
 * The upstreams in policy order. A model goes to the first upstream whose `models` globs match
 * it; the routing answer is cached per model id (bounded), so a request costs one map lookup.
 */
export class UpstreamRegistry {
  readonly upstreams: Upstream[];
  private readonly routes = new Map<string, Upstream | null>();

  constructor(configs: readonly UpstreamConfig[]) {
    this.upstreams = configs.map((c) => new Upstream(c));
  }

  get empty(): boolean {
    return this.upstreams.length === 0;
  }

  route(model: string): Upstream | undefined {
    let upstream = this.routes.get(model);
    if (upstream === undefined) {
      upstream = this.upstreams.find((u) => u.serves(model)) ?? null;
      if (this.routes.size > 10_000) this.routes.clear();
      this.routes.set(model, upstream);
    }
    return upstream ?? undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.upstreams.map((u) => u.pool.close().catch(() => undefined)));
  }
}
