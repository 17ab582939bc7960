import { BadRequestException } from '@nestjs/common';
import { ConflictError, OAuthError, ValidationFailedError } from './errors';
import { answerOf } from './problem-details.filter';

describe('answerOf', () => {
  it("gives what the client was told: status, code and detail, not the exception's class", () => {
    expect(
      answerOf(new ValidationFailedError('permissions: unknown permission "bad perm"')),
    ).toEqual({
      status: 400,
      code: 'validation_failed',
      error: 'permissions: unknown permission "bad perm"',
    });
    expect(answerOf(new ConflictError('A role named "x" already exists'))).toMatchObject({
      status: 409,
      code: 'conflict',
    });
    expect(answerOf(new BadRequestException(['mode must be "soft" or "hard"']))).toEqual({
      status: 400,
      code: 'validation_failed',
      error: 'mode must be "soft" or "hard"',
    });
  });

  it('answers an OAuth error in its RFC 6749 terms', () => {
    expect(answerOf(new OAuthError('invalid_request', 'token is required'))).toEqual({
      status: 400,
      code: 'invalid_request',
      error: 'token is required',
    });
  });

  it('is the 503 of a database outage and the generic 500 otherwise, never a stack', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(answerOf(refused)).toMatchObject({ status: 503, code: 'service_unavailable' });
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    expect(answerOf(bug)).toEqual({
      status: 500,
      code: 'internal_error',
      error: 'Internal server error',
    });
    expect(JSON.stringify(answerOf(bug))).not.toContain('at ');
  });
});
