import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TapResult, UsageTap } from './usage-tap';

async function through(
  kind: 'json' | 'sse',
  strip: boolean,
  chunks: string[],
): Promise<{ out: string; result: TapResult }> {
  let result: TapResult | undefined;
  const sut = new UsageTap(kind, strip, (r) => {
    result = r;
  });
  let out = '';
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), sut, async (source) => {
    for await (const chunk of source) out += chunk;
  });
  return { out, result: result as TapResult };
}

const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

describe('UsageTap', () => {
  it('passes JSON through unchanged and reads its usage', async () => {
    const body = JSON.stringify({ usage: { prompt_tokens: 3, completion_tokens: 4 } });
    const { out, result } = await through('json', false, [body.slice(0, 5), body.slice(5)]);
    expect(out).toBe(body);
    expect(result).toEqual({
      usage: { promptTokens: 3, completionTokens: 4 },
      completionChars: 0,
      aborted: false,
    });
  });

  it('reads the usage chunk of a stream split anywhere, and the Responses API usage', async () => {
    const stream =
      event({ choices: [{ delta: { content: 'Hello' } }] }) +
      event({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } }) +
      'data: [DONE]\n\n';
    const split = [stream.slice(0, 7), stream.slice(7, 60), stream.slice(60)];
    const kept = await through('sse', false, split);
    expect(kept.out).toBe(stream);
    expect(kept.result.usage).toEqual({ promptTokens: 1, completionTokens: 2 });
    expect(kept.result.completionChars).toBe(5);

    const responses = await through('sse', false, [
      event({
        type: 'response.completed',
        response: { usage: { input_tokens: 7, output_tokens: 8 } },
      }),
    ]);
    expect(responses.result.usage).toEqual({ promptTokens: 7, completionTokens: 8 });
  });

  it('holds back the usage-only chunk the client did not ask for', async () => {
    const first = event({ choices: [{ delta: { content: 'Hi' } }] });
    const usage = event({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const { out, result } = await through('sse', true, [first, usage, 'data: [DONE]\r\n\r\n']);
    expect(out).toBe(first + 'data: [DONE]\r\n\r\n');
    expect(result.usage).toEqual({ promptTokens: 1, completionTokens: 1 });
  });

  it('counts generated text for an estimate when no usage comes', async () => {
    const { result } = await through('sse', false, [
      event({ choices: [{ delta: { content: 'abcd' } }] }),
      event({ choices: [{ delta: { content: 'efgh' } }] }),
    ]);
    expect(result).toEqual({ usage: undefined, completionChars: 8, aborted: false });
  });

  it('holds the last bytes until the end is counted (the reservation settled)', async () => {
    let settled = false;
    let release!: () => void;
    const sut = new UsageTap('json', false, () => {
      return new Promise<void>((resolve) => {
        release = () => {
          settled = true;
          resolve();
        };
      });
    });
    const seen: string[] = [];
    sut.on('data', (chunk: Buffer) => seen.push(chunk.toString()));
    const ended = new Promise((resolve) => sut.on('end', resolve));
    sut.write(Buffer.from('{"usage":'));
    sut.end(Buffer.from('{"prompt_tokens":1,"completion_tokens":2}}'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.join('')).toBe('{"usage":');
    expect(settled).toBe(false);
    release();
    await ended;
    expect(seen.join('')).toBe('{"usage":{"prompt_tokens":1,"completion_tokens":2}}');
  });

  it('passes stream events at once and holds only data: [DONE] until the end is counted', async () => {
    let release!: () => void;
    const sut = new UsageTap(
      'sse',
      false,
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    const seen: string[] = [];
    sut.on('data', (chunk: Buffer) => seen.push(chunk.toString()));
    const ended = new Promise((resolve) => sut.on('end', resolve));
    const first = 'data: {"choices":[{"delta":{"content":"a"}}]}\n\n';
    sut.write(Buffer.from(first));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.join('')).toBe(first); // not held back until the next chunk
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n';
    sut.end(Buffer.from(usage + 'data: [DONE]\n\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.join('')).toBe(first + usage);
    release();
    await ended;
    expect(seen.join('')).toBe(first + usage + 'data: [DONE]\n\n');
  });
});
