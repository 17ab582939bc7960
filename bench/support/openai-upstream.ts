/**
 * The benchmark's upstream: a minimal OpenAI-compatible server (node:http, keep-alive) answering
 * every chat completion with a fixed JSON body (Content-Length) or, for `stream: true`, five SSE
 * chunks and the usage chunk. At once, or — for a model named `…-<N>ms` (`bench-model-25ms`) —
 * after N milliseconds, as a model server that takes time to generate does. Run as its own
 * process: `node openai-upstream.js <port>`.
 */
import { createServer } from 'node:http';

const JSON_BODY = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'bench-model',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'The quick brown fox jumps over the lazy dog.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 10, total_tokens: 22 },
});
const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'bench-model', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const SSE_BODY =
  ['The', ' quick', ' brown', ' fox', ' jumps'].map(chunk).join('') +
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'bench-model', choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } })}\n\n` +
  'data: [DONE]\n\n';

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        '{"object":"list","data":[{"id":"bench-model","object":"model"},{"id":"bench-model-25ms","object":"model"}]}',
      );
      return;
    }
    const request = Buffer.concat(parts).toString();
    const paced = /"model":"[^"]*-(\d+)ms"/.exec(request);
    const answer = () => {
      if (request.includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(SSE_BODY);
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(JSON_BODY),
      });
      res.end(JSON_BODY);
    };
    if (paced) setTimeout(answer, Number(paced[1]));
    else answer();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.send?.('ready'));
