import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ValidationFailedError } from '../../common/errors';
import { InferBodyPipe } from './infer-body.pipe';
import { InferDto } from './infer.dto';

/** What the DTO's class-validator decorators say about a body: the first message, or ok. */
function dtoVerdict(body: unknown): string {
  const errors = validateSync(plainToInstance(InferDto, body) as object, {
    stopAtFirstError: true,
  });
  return errors.length ? Object.values(errors[0].constraints ?? {})[0] : 'ok';
}

function pipeVerdict(body: unknown): string {
  try {
    new InferBodyPipe().transform(body);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailedError);
    return (error as Error).message;
  }
}

describe('InferBodyPipe', () => {
  const sut = new InferBodyPipe();

  it('passes a prompt through and drops every other member', () => {
    expect(sut.transform({ prompt: 'hello', extra: { nested: true } })).toEqual({
      prompt: 'hello',
    });
  });

  it.each([
    [{}],
    [{ prompt: '' }],
    [{ prompt: 42 }],
    [{ prompt: null }],
    [{ prompt: ['a'] }],
    [{ prompt: 'x'.repeat(100_000) }],
    [{ prompt: 'x'.repeat(100_001) }],
    [{ prompt: 'ok' }],
  ])('agrees with the InferDto decorators on %j', (body) => {
    expect(pipeVerdict(body)).toBe(dtoVerdict(body));
  });

  it.each([[null], [[]], ['prompt'], [42]])('refuses a body that is not an object: %j', (body) => {
    expect(() => sut.transform(body)).toThrow('prompt must be a string');
  });
});
