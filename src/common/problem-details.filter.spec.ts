import { BadRequestException, HttpException } from '@nestjs/common';
import {
  ConflictError,
  HostileInputError,
  InsufficientPermissionsError,
  InvalidTokenError,
  NotAuthenticatedError,
  NotFoundError,
  OAuthError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './errors';
import { answerOf, oauthSurface } from './problem-details.filter';

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

describe('oauthSurface', () => {
  const answered = (exception: unknown) => {
    const sut = oauthSurface(exception) as OAuthError;
    return { error: sut.error, status: sut.status, description: sut.description };
  };

  it('answers refused input as invalid_request with its status', () => {
    expect(answered(new HostileInputError('Request body is not valid JSON'))).toEqual({
      error: 'invalid_request',
      status: 400,
      description: 'Request body is not valid JSON',
    });
    expect(answered(new PayloadTooLargeError('too large'))).toMatchObject({ status: 413 });
    expect(answered(new UnsupportedMediaTypeError('Content-Type text/plain…'))).toMatchObject({
      error: 'invalid_request',
      status: 415,
    });
    expect(answered(new HttpException('Body cannot be empty', 400))).toMatchObject({
      error: 'invalid_request',
      status: 400,
    });
  });

  it('answers missing client credentials as invalid_client, a refused bearer as invalid_token', () => {
    expect(answered(new NotAuthenticatedError())).toEqual({
      error: 'invalid_client',
      status: 401,
      description: 'Client authentication is required',
    });
    const bearer = oauthSurface(new InvalidTokenError()) as OAuthError;
    expect(bearer).toMatchObject({ error: 'invalid_token', status: 401 });
    expect(bearer.headers['WWW-Authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect(answered(new InsufficientPermissionsError(['tokens:introspect']))).toMatchObject({
      error: 'insufficient_scope',
      status: 403,
    });
  });

  it('leaves OAuth errors and what RFC 6749 has no word for as they are', () => {
    const own = new OAuthError('invalid_grant', 'expired');
    expect(oauthSurface(own)).toBe(own);
    const missing = new NotFoundError('No route');
    expect(oauthSurface(missing)).toBe(missing);
    expect(oauthSurface(new ValidationFailedError('x'))).toBeInstanceOf(OAuthError);
  });
});
