import { createServer, IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small, real OpenAI-compatible server for the gateway tests (node:http on a free port). It
 * behaves by model id:
 *   - `*-slow`: waits `slowMs` before answering (timeouts, disconnects);
 *   - `*-fail`: 500 with an OpenAI error body;
 *   - `*-nousage`: answers without `usage`;
 *   - `*-break`: a stream that breaks off (the connection is destroyed) after two chunks;
 *   - anything else: a normal answer whose usage is its word counts (prompt) and 5 (completion).
 * Streams send one chunk per word, then the usage chunk when `stream_options.include_usage`.
 */
export interface SeenRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface FakeOpenAi {
  url: string;
  seen: SeenRequest[];
  /** Requests whose client (Tessera) went away before the answer was complete. */
  aborted: string[];
  models: string[];
  close(): Promise<void>;
}

const REPLY = 'one two three four five';

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}

function words(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? '');
  return text.match(/\S+/g)?.length ?? 0;
}

export async function startFakeOpenAi(
  options: { models?: string[]; slowMs?: number; name?: string } = {},
): Promise<FakeOpenAi> {
  const models = options.models ?? ['llama-3-8b', 'llama-3-8b-slow', 'llama-3-8b-fail'];
  const slowMs = options.slowMs ?? 3000;
  const seen: SeenRequest[] = [];
  const aborted: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await readJson(req);
    const path = req.url ?? '';
    seen.push({ path, headers: req.headers, body });
    const model = String(body.model ?? '');
    res.on('close', () => {
      if (!res.writableFinished) aborted.push(model);
    });
    if (path.endsWith('/v1/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: models.map((id) => ({ id, object: 'model', owned_by: options.name ?? 'fake' })),
        }),
      );
      return;
    }
    if (model.endsWith('-slow')) await new Promise((r) => setTimeout(r, slowMs));
    if (res.destroyed) return;
    if (model.endsWith('-fail')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } }));
      return;
    }
    const messages = (body.messages as Array<{ content?: unknown }> | undefined) ?? [];
    const prompt = path.endsWith('/chat/completions')
      ? messages.reduce((n, m) => n + words(m.content), 0)
      : words(body.prompt ?? body.input);
    const usage = model.endsWith('-nousage')
      ? undefined
      : path.endsWith('/embeddings')
        ? { prompt_tokens: prompt, total_tokens: prompt }
        : path.endsWith('/responses')
          ? { input_tokens: prompt, output_tokens: 5, total_tokens: prompt + 5 }
          : { prompt_tokens: prompt, completion_tokens: 5, total_tokens: prompt + 5 };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pieces = REPLY.split(' ');
      const send = (i: number) => {
        if (res.destroyed) return;
        if (model.endsWith('-break') && i === 2) {
          res.destroy();
          return;
        }
        if (i < pieces.length) {
          const word = (i ? ' ' : '') + pieces[i];
          res.write(
            `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`,
          );
          setTimeout(() => send(i + 1), 5);
          return;
        }
        const options = body.stream_options as { include_usage?: boolean } | undefined;
        if (options?.include_usage && usage)
          res.write(
            `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model, choices: [], usage })}\n\n`,
          );
        res.end('data: [DONE]\n\n');
      };
      send(0);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (path.endsWith('/embeddings')) {
      res.end(
        JSON.stringify({
          object: 'list',
          model,
          data: [
            {
              object: 'embedding',
              index: 0,
              embedding:
                body.encoding_format === 'base64'
                  ? Buffer.from(new Float32Array([0.5, 0.25]).buffer).toString('base64')
                  : [0.5, 0.25],
            },
          ],
          usage,
        }),
      );
    } else if (path.endsWith('/responses')) {
      res.end(
        JSON.stringify({
          id: 'resp_1',
          object: 'response',
          model,
          output: [{ type: 'message', content: [{ type: 'output_text', text: REPLY }] }],
          usage,
        }),
      );
    } else if (path.endsWith('/completions') && !path.endsWith('/chat/completions')) {
      res.end(
        JSON.stringify({
          id: 'cmpl-1',
          object: 'text_completion',
          model,
          choices: [{ index: 0, text: REPLY, finish_reason: 'stop' }],
          usage,
        }),
      );
    } else {
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          model,
          choices: [
            { index: 0, message: { role: 'assistant', content: REPLY }, finish_reason: 'stop' },
          ],
          usage,
        }),
      );
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    aborted,
    models,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
