import { Injectable, PipeTransform } from '@nestjs/common';
import { ValidationFailedError } from '../../common/errors';

/** The body of `POST /v1/infer` once checked (documented for OpenAPI by {@link InferDto}). */
export interface InferBody {
  prompt: string;
}

export const MAX_PROMPT_LENGTH = 100_000;

/**
 * Checks the `/v1/infer` body by hand: one field, three rules, the same messages the DTO's
 * class-validator decorators give. This route is the hot path, and class-transformer plus
 * class-validator (instance creation, metadata lookups, one validator call per decorator) cost
 * more per request than the whole check. The handler's parameter is typed with an interface, so
 * the global ValidationPipe (which only validates classes) leaves it to this pipe.
 */
@Injectable()
export class InferBodyPipe implements PipeTransform<unknown, InferBody> {
  transform(body: unknown): InferBody {
    const prompt =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as { prompt?: unknown }).prompt
        : undefined;
    if (typeof prompt !== 'string') throw new ValidationFailedError('prompt must be a string');
    if (prompt.length === 0) throw new ValidationFailedError('prompt must not be empty');
    if (prompt.length > MAX_PROMPT_LENGTH)
      throw new ValidationFailedError(
        `prompt must be shorter than or equal to ${MAX_PROMPT_LENGTH} characters`,
      );
    return { prompt };
  }
}
