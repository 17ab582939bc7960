import { ValidationFailedError } from '../../common/errors';
import { validateOpenAiRequest } from './openai-request.validator';

function paramOf(body: unknown, endpoint = '/v1/chat/completions' as const): string | undefined {
  try {
    validateOpenAiRequest(endpoint, body);
    return undefined;
  } catch (error) {
    return (error as ValidationFailedError).param;
  }
}

describe('validateOpenAiRequest', () => {
  const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it('accepts OpenAI bodies, content parts and null content included', () => {
    expect(paramOf(ok)).toBeUndefined();
    expect(
      paramOf({
        model: 'm',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
          { role: 'assistant', content: null, tool_calls: [] },
        ],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 5,
      }),
    ).toBeUndefined();
    expect(
      paramOf({ model: 'm', input: [[1, 2], [3]] }, '/v1/embeddings' as never),
    ).toBeUndefined();
  });

  it.each([
    [{ messages: ok.messages }, 'model'],
    [{ ...ok, model: 7 }, 'model'],
    [{ ...ok, messages: {} }, 'messages'],
    [{ ...ok, messages: [] }, 'messages'],
    [{ ...ok, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ ...ok, messages: [ok.messages[0], { role: 'user', content: 5 }] }, 'messages[1].content'],
    [{ ...ok, stream: 'yes' }, 'stream'],
    [{ ...ok, max_tokens: -1 }, 'max_tokens'],
    [{ ...ok, max_tokens: 1.5 }, 'max_tokens'],
    [{ ...ok, stream_options: { include_usage: 'y' } }, 'stream_options.include_usage'],
    [[1, 2], 'body'],
  ])('names the bad field of %j: %s', (body, param) => {
    expect(paramOf(body)).toBe(param);
  });
});
