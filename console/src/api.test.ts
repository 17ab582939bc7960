import { describe, expect, it } from 'vitest';
import { ApiError, errorFrom, withQuery } from './api';

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('API errors', () => {
  it('carry the problem+json detail and code', async () => {
    const error = await errorFrom(
      json(409, { status: 409, detail: 'A client with id "x" already exists', code: 'conflict' }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.detail).toBe('A client with id "x" already exists');
    expect(error.code).toBe('conflict');
    expect(error.unavailable).toBe(false);
  });

  it('read RFC 6749 errors and plain text too', async () => {
    expect(
      (await errorFrom(json(400, { error: 'invalid_grant', error_description: 'Nope' }))).detail,
    ).toBe('Nope');
    expect((await errorFrom(new Response('gateway down', { status: 502 }))).detail).toBe(
      'gateway down',
    );
  });

  it('tell a missing endpoint (route 404) from a missing record', async () => {
    const route = await errorFrom(
      json(404, { detail: 'No route for GET /admin/usage', code: 'not_found' }),
    );
    expect(route.unavailable).toBe(true);
    const record = await errorFrom(
      json(404, { detail: 'No client with id "x"', code: 'not_found' }),
    );
    expect(record.unavailable).toBe(false);
  });
});

describe('withQuery', () => {
  it('drops empty values and encodes the rest', () => {
    expect(
      withQuery('/admin/audit', { action: 'client.*', actor: '', limit: 25, cursor: undefined }),
    ).toBe('/admin/audit?action=client.*&limit=25');
  });
});
