import { StringDecoder } from 'node:string_decoder';
import { Transform, TransformCallback } from 'node:stream';

/** Token counts of one answer, as the upstream reported them. */
export interface ReportedUsage {
  promptTokens: number;
  completionTokens: number;
}

/** What the tap saw by the end of the answer (or when the client went away). */
export interface TapResult {
  /** The upstream's own `usage`, when it sent one. */
  usage?: ReportedUsage;
  /** Characters of generated text seen (for an estimate when `usage` is missing). */
  completionChars: number;
  /** The answer ended early: the client disconnected or the upstream broke off. */
  aborted: boolean;
}

/** A JSON answer larger than this is passed through but not parsed for its `usage`. */
const MAX_PARSED_JSON_BYTES = 8 * 1024 * 1024;
const EVENT_BOUNDARY = /\r?\n\r?\n/;

/** Reads OpenAI's `usage` (chat, completions, embeddings) or the Responses API's. */
export function usageOf(body: unknown): ReportedUsage | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as { usage?: unknown; response?: { usage?: unknown } };
  const usage = (record.usage ?? record.response?.usage) as
    | {
        prompt_tokens?: unknown;
        completion_tokens?: unknown;
        input_tokens?: unknown;
        output_tokens?: unknown;
      }
    | null
    | undefined;
  if (!usage || typeof usage !== 'object') return undefined;
  const prompt = usage.prompt_tokens ?? usage.input_tokens;
  const completion = usage.completion_tokens ?? usage.output_tokens ?? 0;
  if (typeof prompt !== 'number' || typeof completion !== 'number') return undefined;
  if (!Number.isFinite(prompt) || !Number.isFinite(completion) || prompt < 0 || completion < 0)
    return undefined;
  return { promptTokens: Math.floor(prompt), completionTokens: Math.floor(completion) };
}

function generatedText(event: Record<string, unknown>): number {
  const choices = event.choices as Array<{
    delta?: { content?: unknown };
    message?: { content?: unknown };
    text?: unknown;
  }>;
  let chars = 0;
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      const content = choice?.delta?.content ?? choice?.message?.content ?? choice?.text;
      if (typeof content === 'string') chars += content.length;
    }
  } else if (typeof event.delta === 'string') chars += event.delta.length; // Responses API
  return chars;
}

const DONE_EVENT = Buffer.from('data: [DONE]');

/**
 * Passes an upstream answer through to the client unchanged, chunk by chunk, while reading the
 * `usage` it carries: from the JSON body at the end, or from the stream's events (the final
 * `include_usage` chunk, or the Responses API's `response.completed`). With `stripUsageChunk`
 * (the client did not ask for `stream_options.include_usage`; Tessera added it to count tokens)
 * the usage-only chunk is held back, so a client that reads `choices[0]` of every chunk is not
 * surprised by an empty `choices`; only then are events passed on whole rather than as they come.
 * The end of the answer waits until it is counted (`onEnd`, and the promise it returns: the
 * reservation settled), so the caller has not seen the whole answer before: a JSON answer's last
 * chunk is held until then, a stream's `data: [DONE]` event (every other event passes at once)
 * and the stream's end.
 */
export class UsageTap extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private carry = '';
  private readonly json: Buffer[] = [];
  private jsonBytes = 0;
  private usage?: ReportedUsage;
  private completionChars = 0;
  private finished = false;
  /** JSON: the newest chunk, passed on when the next arrives; SSE: `data: [DONE]` and after. */
  private held?: Buffer;

  constructor(
    private readonly kind: 'json' | 'sse',
    private readonly stripUsageChunk: boolean,
    private readonly onEnd: (result: TapResult) => void | Promise<void>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.kind === 'json') {
      this.jsonBytes += chunk.length;
      if (this.jsonBytes <= MAX_PARSED_JSON_BYTES) this.json.push(chunk);
      callback(null, this.hold(chunk));
      return;
    }
    this.carry += this.decoder.write(chunk);
    if (!this.stripUsageChunk) {
      const now = this.holdDone(chunk);
      if (now) this.push(now);
      this.scan(false);
      callback();
      return;
    }
    const kept = this.scan(true);
    callback(null, kept.length ? this.holdDone(Buffer.from(kept)) : undefined);
  }

  private hold(chunk: Buffer): Buffer | undefined {
    const previous = this.held;
    this.held = chunk;
    return previous;
  }

  /** What may pass now: all of `chunk` but its `data: [DONE]` event, which waits for the end. */
  private holdDone(chunk: Buffer): Buffer | undefined {
    if (this.held) {
      this.held = Buffer.concat([this.held, chunk]); // after [DONE]: nothing is expected
      return undefined;
    }
    const at = chunk.lastIndexOf(DONE_EVENT);
    if (at < 0) return chunk;
    this.held = chunk.subarray(at);
    return at > 0 ? chunk.subarray(0, at) : undefined;
  }

  override _flush(callback: TransformCallback): void {
    let tail: Buffer | string | undefined = this.held;
    this.held = undefined;
    if (this.kind === 'json') {
      if (this.jsonBytes <= MAX_PARSED_JSON_BYTES) {
        try {
          const body = JSON.parse(Buffer.concat(this.json).toString('utf8')) as unknown;
          this.usage = usageOf(body);
          if (!this.usage && body && typeof body === 'object')
            this.completionChars = generatedText(body as Record<string, unknown>);
        } catch {
          // Not JSON (an upstream error page): no usage.
        }
      }
    } else {
      this.carry += this.decoder.end();
      if (this.carry.trim()) this.carry += '\n\n';
      const kept = this.scan(this.stripUsageChunk);
      if (this.stripUsageChunk && kept)
        tail = tail ? Buffer.concat([tail, Buffer.from(kept)]) : kept;
    }
    const done = () => {
      if (tail !== undefined && tail.length > 0) this.push(tail);
      callback();
    };
    const counted = this.finish(false);
    if (counted) counted.then(done, done);
    else done();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.finish(true);
    callback(error);
  }

  private finish(aborted: boolean): void | Promise<void> {
    if (this.finished) return;
    this.finished = true;
    return this.onEnd({ usage: this.usage, completionChars: this.completionChars, aborted });
  }

  /** Inspects every complete event in `carry`; returns the text of those to keep (if asked). */
  private scan(collect: boolean): string {
    let kept = '';
    let match: RegExpExecArray | null;
    while ((match = EVENT_BOUNDARY.exec(this.carry)) !== null) {
      const end = match.index + match[0].length;
      const event = this.carry.slice(0, end);
      this.carry = this.carry.slice(end);
      if (this.inspect(event) || !collect) {
        if (collect) kept += event;
      }
    }
    return kept;
  }

  /** Reads one SSE event; false when it is the usage-only chunk to hold back. */
  private inspect(event: string): boolean {
    let data = '';
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith('data:')) data += line.slice(line[5] === ' ' ? 6 : 5);
    }
    if (!data || data === '[DONE]') return true;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return true;
    }
    if (parsed === null || typeof parsed !== 'object') return true;
    this.completionChars += generatedText(parsed);
    const usage = usageOf(parsed);
    if (!usage) return true;
    this.usage = usage;
    return !(
      this.stripUsageChunk &&
      Array.isArray(parsed.choices) &&
      (parsed.choices as unknown[]).length === 0
    );
  }
}
