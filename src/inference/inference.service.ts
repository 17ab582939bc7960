import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { BadGatewayError, ValidationFailedError } from '../common/errors';
import { upstreamConfig } from '../config/configuration';
import type { ChatCompletionDto } from './dto/chat-completion.dto';
import { ECHO_MODEL, echoReply } from './echo-model';

/** A JSON answer, or a stream of Server-Sent Events to pass through as they arrive. */
export type ModelAnswer =
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'stream'; status: number; contentType: string; body: Readable };

/**
 * The model behind `/v1/*`: an OpenAI-compatible server at UPSTREAM_URL (requests forwarded as
 * sent, responses and SSE streams passed through), or the built-in echo model. The caller's
 * Tessera token is never forwarded; UPSTREAM_API_KEY is sent instead, if set.
 */
@Injectable()
export class InferenceService {
  private readonly logger = new Logger('Inference');

  constructor(
    @Inject(upstreamConfig.KEY) private readonly upstream: ConfigType<typeof upstreamConfig>,
  ) {}

  async models(): Promise<ModelAnswer> {
    if (this.upstream.url) return this.forward('GET', '/v1/models');
    return {
      kind: 'json',
      status: 200,
      body: {
        object: 'list',
        data: [{ id: ECHO_MODEL, object: 'model', created: 0, owned_by: 'tessera' }],
      },
    };
  }

  /** `raw` is the body as the client sent it (the DTO only validated it), so unknown fields pass. */
  async chat(dto: ChatCompletionDto, raw: unknown, user: string): Promise<ModelAnswer> {
    if (this.upstream.url) return this.forward('POST', '/v1/chat/completions', raw);
    if (dto.model !== ECHO_MODEL) {
      throw new ValidationFailedError(
        `model: unknown model "${dto.model}" (available: ${ECHO_MODEL})`,
      );
    }
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const content = echoReply(dto.messages);
    if (!dto.stream) {
      return {
        kind: 'json',
        status: 200,
        body: {
          id,
          object: 'chat.completion',
          created,
          model: ECHO_MODEL,
          user,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        },
      };
    }
    const chunk = (delta: Record<string, string>, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: ECHO_MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const events = [
      chunk({ role: 'assistant' }, null),
      ...content.split(/(?<= )/).map((word) => chunk({ content: word }, null)),
      chunk({}, 'stop'),
      'data: [DONE]\n\n',
    ];
    return {
      kind: 'stream',
      status: 200,
      contentType: 'text/event-stream',
      body: Readable.from(events),
    };
  }

  private async forward(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<ModelAnswer> {
    const headers: Record<string, string> = { Accept: 'application/json, text/event-stream' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.upstream.apiKey) headers.Authorization = `Bearer ${this.upstream.apiKey}`;
    let response: Response;
    try {
      response = await fetch(`${this.upstream.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.upstream.timeoutMs),
      });
    } catch (error) {
      this.logger.warn(`Upstream ${method} ${path} failed: ${(error as Error).message}`);
      throw new BadGatewayError('The upstream model server could not be reached');
    }
    const contentType = response.headers.get('content-type') ?? 'application/json';
    if (contentType.startsWith('text/event-stream') && response.body) {
      return {
        kind: 'stream',
        status: response.status,
        contentType,
        body: Readable.fromWeb(response.body as never),
      };
    }
    const text = await response.text();
    try {
      return { kind: 'json', status: response.status, body: text ? JSON.parse(text) : {} };
    } catch {
      throw new BadGatewayError(
        `The upstream model server answered ${response.status} with a body that is not JSON`,
      );
    }
  }
}
