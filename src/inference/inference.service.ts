import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { errors as undiciErrors } from 'undici';
import { Counter, Histogram } from 'prom-client';
import {
  BadGatewayError,
  GatewayTimeoutError,
  ModelNotFoundError,
  ValidationFailedError,
} from '../common/errors';
import { gatewayConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { UsageService } from '../usage/usage.service';
import {
  countWords,
  ECHO_MODEL,
  echoEmbedding,
  echoReply,
  promptWords,
  textOf,
} from './echo-model';
import { ModelLabels } from './model-labels';
import { PriceBook } from './price-book';
import { Upstream, UpstreamRegistry } from './upstream-registry';
import { ReportedUsage, TapResult, UsageTap } from './usage-tap';

/** The OpenAI routes Tessera forwards, by the path it forwards them to. */
export type ModelEndpoint =
  '/v1/chat/completions' | '/v1/completions' | '/v1/embeddings' | '/v1/responses';

/** Who is calling, as sent upstream and written to the ledger. */
export interface Caller {
  subject: string;
  clientId?: string;
  requestId: string;
}

/** The tokens of one answer, as settled: reported by the upstream or estimated. */
export interface SettledUsage extends ReportedUsage {
  model: string;
  estimated: boolean;
  costUsd: number;
}

/** Called once per forwarded request when its answer has ended (or the client went away). */
/**
 * Settles a reservation to the real usage. The answer's last bytes wait for its promise, so the
 * caller's next request — on any replica or worker — is checked against the settled count.
 */
export type SettleHook = (usage: SettledUsage | undefined) => void | Promise<void>;

interface ModelList {
  object: 'list';
  data: Array<{ id: string; object: 'model'; created: number; owned_by: string }>;
}

/** How long an upstream's `/v1/models` answer is reused. */
const MODELS_TTL_MS = 60_000;
/** Rough characters per token, for estimates when an upstream reports no usage. */
const CHARS_PER_TOKEN = 4;
const SAFE_HEADER = /^[\x21-\x7e][\x20-\x7e]*$/;

/** A header value safe to send: printable ASCII as is, anything else percent-encoded. */
function headerValue(value: string): string {
  return SAFE_HEADER.test(value) ? value : encodeURIComponent(value);
}

/** Whether an undici error is the upstream not answering in time (504) rather than failing (502). */
function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  );
}

/**
 * The model behind `/v1/*`: the upstreams of the policy's `gateway` section (or UPSTREAM_URL),
 * or the built-in echo model when none is configured. A request goes to the first upstream whose
 * `models` globs match its `model`, over that upstream's keep-alive pool; the answer (JSON or an
 * SSE stream) is piped back to the client chunk by chunk with backpressure, never buffered, while
 * a tap reads its `usage` for the ledger. A client that disconnects aborts the upstream call.
 * The caller's credential is never forwarded: the upstream gets its own key and
 * `x-tessera-subject`, `x-tessera-client-id` and `x-request-id`.
 */
@Injectable()
export class InferenceService implements OnApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  readonly registry: UpstreamRegistry;
  private readonly modelLists = new Map<
    Upstream,
    { at: number; list?: string[]; pending?: Promise<string[]> }
  >();
  private readonly upstreamLatency: Histogram<'upstream' | 'model' | 'outcome'>;
  private readonly tokens: Counter<'model' | 'kind'>;
  private readonly cost: Counter<'model'>;
  /** The metrics' `model` label values: bounded, never a name a caller merely invented. */
  private readonly modelLabels: ModelLabels;

  constructor(
    @Inject(gatewayConfig.KEY) config: ConfigType<typeof gatewayConfig>,
    private readonly usage: UsageService,
    readonly prices: PriceBook,
    metrics: MetricsService,
  ) {
    this.registry = new UpstreamRegistry(config.upstreams);
    this.modelLabels = new ModelLabels(
      [
        ECHO_MODEL,
        ...config.upstreams.flatMap((u) => u.models),
        ...config.prices.map((p) => p.model),
      ],
      undefined,
      (max) =>
        this.logger.warn(
          `${max} model names are labelled in the gateway's metrics; requests for any other model are counted as model="<other>"`,
        ),
    );
    this.upstreamLatency = new Histogram({
      name: 'tessera_gateway_upstream_seconds',
      help: 'Time from forwarding a request to the upstream answering with headers, by upstream, model and outcome (the status code, or timeout, error, aborted)',
      labelNames: ['upstream', 'model', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [metrics.registry],
    });
    this.tokens = new Counter({
      name: 'tessera_gateway_tokens_total',
      help: 'Tokens through the gateway, by model and kind (prompt, completion)',
      labelNames: ['model', 'kind'] as const,
      registers: [metrics.registry],
    });
    this.cost = new Counter({
      name: 'tessera_gateway_cost_usd_total',
      help: 'Cost in USD of the tokens through the gateway (gateway.prices), by model',
      labelNames: ['model'] as const,
      registers: [metrics.registry],
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }

  /** Whether `model` is served (by an upstream, or the echo model when there is none). */
  serves(model: string): boolean {
    return this.registry.empty ? model === ECHO_MODEL : this.registry.route(model) !== undefined;
  }

  /**
   * Forwards one model request (`body` as the client sent it; the DTO only validated it) and
   * sends the answer on `reply`. `settle` is called once when the answer ends.
   */
  async call(
    endpoint: ModelEndpoint,
    body: Record<string, unknown>,
    caller: Caller,
    reply: FastifyReply,
    settle?: SettleHook,
  ): Promise<void> {
    const model = body.model as string;
    const upstream = this.registry.route(model);
    if (!upstream) {
      if (this.registry.empty && model === ECHO_MODEL) {
        await this.echo(endpoint, body, caller, reply, settle);
        return;
      }
      throw new ModelNotFoundError(model);
    }
    const stream = body.stream === true;
    let outgoing = body;
    let strip = false;
    if (
      stream &&
      endpoint !== '/v1/responses' &&
      (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage !== true
    ) {
      // Ask for the final usage chunk so streamed tokens are counted; hide it from a client
      // that did not ask for it.
      outgoing = {
        ...body,
        stream_options: { ...(body.stream_options as object), include_usage: true },
      };
      strip = true;
    }
    const payload = JSON.stringify(outgoing);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      'x-tessera-subject': headerValue(caller.subject),
      'x-request-id': headerValue(caller.requestId),
    };
    if (caller.clientId) headers['x-tessera-client-id'] = headerValue(caller.clientId);
    if (upstream.authorization) headers.authorization = upstream.authorization;

    // undici accepts an EventEmitter as the signal: cheaper than an AbortController per request.
    const abort = Object.assign(new EventEmitter(), { aborted: false });
    const onClose = () => {
      if (reply.raw.writableFinished) return;
      abort.aborted = true;
      abort.emit('abort');
    };
    reply.raw.once('close', onClose);
    const started = performance.now();
    let answer: Awaited<ReturnType<typeof upstream.pool.request>>;
    try {
      answer = await upstream.pool.request({
        path: `${upstream.basePath}${endpoint}`,
        method: 'POST',
        headers,
        body: payload,
        signal: abort,
        headersTimeout: upstream.timeoutMs,
        bodyTimeout: upstream.timeoutMs,
      });
    } catch (error) {
      const outcome = abort.aborted ? 'aborted' : isTimeout(error) ? 'timeout' : 'error';
      this.upstreamLatency.observe(
        { upstream: upstream.name, model: this.modelLabels.of(model, false), outcome },
        (performance.now() - started) / 1000,
      );
      settle?.(undefined);
      if (outcome === 'aborted') return; // the client went away; nobody to answer
      this.logger.warn(
        `Upstream ${upstream.name} ${endpoint} failed: ${(error as Error).message} (request ${caller.requestId})`,
      );
      if (outcome === 'timeout')
        throw new GatewayTimeoutError(
          `The upstream model server did not answer within ${upstream.timeoutMs / 1000} s`,
        );
      throw new BadGatewayError('The upstream model server could not be reached');
    }
    this.upstreamLatency.observe(
      {
        upstream: upstream.name,
        model: this.modelLabels.of(model, answer.statusCode < 400),
        outcome: String(answer.statusCode),
      },
      (performance.now() - started) / 1000,
    );
    const contentType = String(answer.headers['content-type'] ?? 'application/json');
    const sse = contentType.startsWith('text/event-stream');
    const ok = answer.statusCode < 400;
    const tap = new UsageTap(sse ? 'sse' : 'json', strip && ok, (result) => {
      const settled = ok
        ? this.settleUsage(model, endpoint, body, result, caller, upstream)
        : undefined;
      return settle?.(settled);
    });
    // Piped by hand, not with stream.pipeline: on Node 20 pipeline makes an AbortController per
    // call and aborts it when done, which constructs a DOMException (and its stack) per proxied
    // request — 3% of the CPU in a profile, plus its garbage. An upstream that breaks off ends
    // the tap with its error (so the answer to the caller ends too); a caller that goes away
    // aborts the upstream request (above), which ends its body.
    answer.body.once('error', (error: Error) => {
      tap.destroy(error);
      if (!abort.aborted && error.name !== 'AbortError')
        this.logger.warn(
          `Upstream ${upstream.name} stream broke off: ${error.message} (request ${caller.requestId})`,
        );
    });
    tap.once('error', () => answer.body.destroy());
    answer.body.pipe(tap);
    reply.status(answer.statusCode).header('content-type', contentType);
    if (sse) reply.header('cache-control', 'no-cache').header('x-accel-buffering', 'no');
    // A JSON answer passes through byte for byte: keep its length (no chunked encoding).
    else if (answer.headers['content-length'] !== undefined)
      reply.header('content-length', String(answer.headers['content-length']));
    return reply.send(tap) as unknown as Promise<void>;
  }

  /** Counts a finished answer: the ledger, the metrics, and the settle hook's figures. */
  private settleUsage(
    model: string,
    endpoint: ModelEndpoint,
    body: Record<string, unknown>,
    result: TapResult,
    caller: Caller,
    upstream?: Upstream,
  ): SettledUsage {
    let reported = result.usage;
    const estimated = !reported;
    if (!reported) {
      reported = {
        promptTokens: Math.ceil(promptChars(endpoint, body) / CHARS_PER_TOKEN),
        completionTokens: Math.ceil(result.completionChars / CHARS_PER_TOKEN),
      };
      if (!result.aborted)
        this.logger.warn(
          `Upstream ${upstream?.name ?? 'echo'} reported no usage for ${model}; estimated ${reported.promptTokens}+${reported.completionTokens} tokens (request ${caller.requestId})`,
        );
    }
    const costUsd = this.prices.costOf(model, reported.promptTokens, reported.completionTokens);
    this.usage.record(caller.subject, `POST ${endpoint}`);
    this.usage.recordModel({
      subject: caller.subject,
      clientId: caller.clientId,
      model,
      promptTokens: reported.promptTokens,
      completionTokens: reported.completionTokens,
      costUsd,
    });
    // Counted only for answers the upstream accepted (status below 400): a label of its own.
    const label = this.modelLabels.of(model, true);
    this.tokens.inc({ model: label, kind: 'prompt' }, reported.promptTokens);
    this.tokens.inc({ model: label, kind: 'completion' }, reported.completionTokens);
    if (costUsd > 0) this.cost.inc({ model: label }, costUsd);
    return { model, ...reported, estimated, costUsd };
  }

  /** `GET /v1/models`: each upstream's own list (cached), the models routed to it; or echo. */
  async models(allowed: (model: string) => boolean = () => true): Promise<ModelList> {
    if (this.registry.empty)
      return {
        object: 'list',
        data: allowed(ECHO_MODEL)
          ? [{ id: ECHO_MODEL, object: 'model', created: 0, owned_by: 'tessera' }]
          : [],
      };
    const lists = await Promise.allSettled(
      this.registry.upstreams.map(async (u) => ({ upstream: u, ids: await this.modelsOf(u) })),
    );
    const data: ModelList['data'] = [];
    const seen = new Set<string>();
    for (const entry of lists) {
      if (entry.status !== 'fulfilled') continue;
      for (const id of entry.value.ids) {
        // Listed only where requests for it actually go, and only if the caller may invoke it.
        if (seen.has(id) || this.registry.route(id) !== entry.value.upstream || !allowed(id))
          continue;
        seen.add(id);
        data.push({ id, object: 'model', created: 0, owned_by: entry.value.upstream.name });
      }
    }
    if (lists.every((l) => l.status === 'rejected'))
      throw new BadGatewayError('The upstream model server could not be reached');
    return { object: 'list', data };
  }

  private modelsOf(upstream: Upstream): Promise<string[]> {
    const cached = this.modelLists.get(upstream);
    const now = Date.now();
    if (cached?.list && now - cached.at < MODELS_TTL_MS) return Promise.resolve(cached.list);
    if (cached?.pending) return cached.pending;
    const pending = this.fetchModels(upstream).then(
      (list) => {
        this.modelLists.set(upstream, { at: Date.now(), list });
        return list;
      },
      (error: unknown) => {
        this.modelLists.delete(upstream);
        this.logger.warn(
          `Upstream ${upstream.name} /v1/models failed: ${(error as Error).message}`,
        );
        throw error;
      },
    );
    this.modelLists.set(upstream, { at: cached?.at ?? 0, list: cached?.list, pending });
    return pending;
  }

  private async fetchModels(upstream: Upstream): Promise<string[]> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (upstream.authorization) headers.authorization = upstream.authorization;
    const answer = await upstream.pool.request({
      path: `${upstream.basePath}/v1/models`,
      method: 'GET',
      headers,
      headersTimeout: Math.min(upstream.timeoutMs, 10_000),
      bodyTimeout: Math.min(upstream.timeoutMs, 10_000),
    });
    const body = (await answer.body.json()) as { data?: Array<{ id?: unknown }> };
    if (answer.statusCode >= 400 || !Array.isArray(body?.data))
      throw new Error(`answered ${answer.statusCode} without a model list`);
    return body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string');
  }

  /** The built-in echo model: honest word counts, so limits and usage work without upstreams. */
  private async echo(
    endpoint: ModelEndpoint,
    body: Record<string, unknown>,
    caller: Caller,
    reply: FastifyReply,
    settle?: SettleHook,
  ): Promise<FastifyReply> {
    reply.status(200);
    const created = Math.floor(Date.now() / 1000);
    /** Counts the answer and settles the reservation before the answer goes out. */
    const record = async (promptTokens: number, completionTokens: number) => {
      const settled = this.settleUsage(
        ECHO_MODEL,
        endpoint,
        body,
        { usage: { promptTokens, completionTokens }, completionChars: 0, aborted: false },
        caller,
      );
      await settle?.(settled);
    };
    const usage = (p: number, c: number) => ({
      prompt_tokens: p,
      completion_tokens: c,
      total_tokens: p + c,
    });
    if (endpoint === '/v1/embeddings') {
      const inputs = Array.isArray(body.input) ? (body.input as unknown[]) : [body.input];
      const texts = inputs.map((i) => (Array.isArray(i) ? i.join(' ') : String(i)));
      const prompt = texts.reduce((n, t) => n + countWords(t), 0);
      await record(prompt, 0);
      return reply.send({
        object: 'list',
        model: ECHO_MODEL,
        data: texts.map((t, index) => {
          const vector = echoEmbedding(t);
          return {
            object: 'embedding',
            index,
            // The openai SDKs ask for base64 (little-endian float32) and decode it themselves.
            embedding:
              body.encoding_format === 'base64'
                ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
                : vector,
          };
        }),
        usage: { prompt_tokens: prompt, total_tokens: prompt },
      });
    }
    if (endpoint === '/v1/responses') {
      throw new ValidationFailedError(
        `model: the built-in ${ECHO_MODEL} model does not serve /v1/responses (configure an upstream)`,
        'model',
      );
    }
    const chat = endpoint === '/v1/chat/completions';
    const messages = chat ? (body.messages as Array<{ role: string; content?: unknown }>) : [];
    const prompts = chat ? [] : Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    const content = chat ? echoReply(messages) : prompts.map((p) => textOf(p)).join('\n');
    const promptTokens = chat
      ? promptWords(messages)
      : prompts.reduce((n: number, p) => n + countWords(textOf(p)), 0);
    const completionTokens = countWords(content);
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    if (body.stream !== true) {
      await record(promptTokens, completionTokens);
      return reply.send({
        id,
        object: chat ? 'chat.completion' : 'text_completion',
        created,
        model: ECHO_MODEL,
        user: caller.subject,
        choices: [
          chat
            ? { index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }
            : { index: 0, text: content, finish_reason: 'stop' },
        ],
        usage: usage(promptTokens, completionTokens),
      });
    }
    const object = chat ? 'chat.completion.chunk' : 'text_completion';
    const chunk = (choice: Record<string, unknown> | undefined, extra = {}) =>
      `data: ${JSON.stringify({ id, object, created, model: ECHO_MODEL, choices: choice ? [{ index: 0, ...choice }] : [], ...extra })}\n\n`;
    const piece = (text: string) =>
      chat ? { delta: { content: text }, finish_reason: null } : { text, finish_reason: null };
    const events = [
      ...(chat ? [chunk({ delta: { role: 'assistant' }, finish_reason: null })] : []),
      ...content.split(/(?<= )/).map((word) => chunk(piece(word))),
      chunk(chat ? { delta: {}, finish_reason: 'stop' } : { text: '', finish_reason: 'stop' }),
    ];
    if ((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true)
      events.push(chunk(undefined, { usage: usage(promptTokens, completionTokens) }));
    events.push('data: [DONE]\n\n');
    await record(promptTokens, completionTokens);
    return reply
      .header('content-type', 'text/event-stream')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(Readable.from(events));
  }
}

/** Characters of the prompt of a request, for an estimate when the upstream reports no usage. */
function promptChars(endpoint: ModelEndpoint, body: Record<string, unknown>): number {
  if (endpoint === '/v1/chat/completions' && Array.isArray(body.messages))
    return (body.messages as Array<{ content?: unknown }>).reduce(
      (n, m) => n + textOf(m.content).length,
      0,
    );
  const input = body.prompt ?? body.input;
  if (typeof input === 'string') return input.length;
  return JSON.stringify(input ?? '').length;
}
