import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import { Writable } from 'node:stream';
import { MAX_LOGGED_PATH, RequestLogLine, RequestOutcome } from './request-log-line';

const TIME = 1795594745742;

/** A pino logger writing into `lines`, its clock fixed at TIME. */
function capture(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: pino({ level, timestamp: () => `,"time":${TIME}` }, stream) };
}

const flushed = () => new Promise((r) => setImmediate(r));

function requestOf(url: string, headers: Record<string, string>, id = 'req-1', method = 'POST') {
  return { id, method, url, headers } as unknown as FastifyRequest;
}

/** What pino itself writes for the line, given the request described field by field. */
async function pinoLine(request: FastifyRequest, outcome: RequestOutcome): Promise<string> {
  const { lines, logger } = capture();
  const { headers } = request;
  const query = request.url.indexOf('?');
  const fields = {
    req: {
      id: request.id,
      method: request.method,
      url: query === -1 ? request.url : request.url.slice(0, query),
      headers: {
        'user-agent': headers['user-agent'],
        ...(headers.authorization ? { authorization: '[redacted]' } : {}),
        ...(headers['x-api-key'] ? { 'x-api-key': '[redacted]' } : {}),
      },
    },
    ...outcome,
  };
  if (outcome.status >= 500) logger.warn(fields, 'request failed');
  else logger.info(fields, outcome.aborted ? 'request aborted' : 'request completed');
  await flushed();
  return lines[0];
}

describe('RequestLogLine', () => {
  const outcome: RequestOutcome = {
    route: '/v1/infer',
    status: 200,
    responseTime: 3.66,
    subject: 'inference-gateway',
    client: 'inference-gateway',
  };

  it.each([
    [
      'a bearer call',
      requestOf('/v1/infer', { authorization: 'Bearer x', 'user-agent': 'curl/8' }),
    ],
    ['no headers at all', requestOf('/v1/models', {}, 'r2', 'GET')],
    ['an API key, no agent', requestOf('/v1/infer', { 'x-api-key': 'tsk_x' })],
    [
      'both credentials and an agent',
      requestOf('/v1/infer', { authorization: 'Bearer x', 'x-api-key': 'k', 'user-agent': 'a' }),
    ],
    [
      'a hostile agent and id',
      requestOf('/v1/infer', { 'user-agent': 'x"\\\u0001\u2028é😀</script>' }, 'id"with\\quotes'),
    ],
  ])('writes the very line pino writes: %s', async (_name, request) => {
    const { logger } = capture();
    const sut = new RequestLogLine(logger);
    expect(sut.format(request, outcome, TIME)).toBe(await pinoLine(request, outcome));
  });

  it('writes a 5xx as "request failed" at warn, and leaves out an unknown caller', async () => {
    const { logger } = capture();
    const request = requestOf('/oauth/token?client_secret=s3cret', { authorization: 'Basic x' });
    const failed = { route: '/oauth/token', status: 503, responseTime: 1 };
    const line = new RequestLogLine(logger).format(request, failed, TIME);
    expect(line).toBe(await pinoLine(request, failed));
    expect(JSON.parse(line)).toMatchObject({ level: 40, msg: 'request failed' });
    expect(line).not.toContain('s3cret');
    expect(line).not.toContain('subject');
  });

  it('writes an answer cut off before its end as "request aborted", with "aborted":true', async () => {
    const { logger } = capture();
    const request = requestOf('/v1/chat/completions', { authorization: 'Bearer x' });
    const cut = { ...outcome, route: '/v1/chat/completions', aborted: true };
    const line = new RequestLogLine(logger).format(request, cut, TIME);
    expect(line).toBe(await pinoLine(request, cut));
    expect(JSON.parse(line)).toMatchObject({
      level: 30,
      status: 200,
      aborted: true,
      subject: 'inference-gateway',
      msg: 'request aborted',
    });
    const failed = { ...cut, status: 502 };
    expect(JSON.parse(new RequestLogLine(logger).format(request, failed, TIME))).toMatchObject({
      level: 40,
      aborted: true,
      msg: 'request failed',
    });
  });

  it('never writes a credential, only that one was sent', () => {
    const { logger } = capture();
    const request = requestOf('/v1/infer?api_key=secret-1', {
      authorization: 'Bearer secret-2',
      'x-api-key': 'secret-3',
      cookie: 'session=secret-4',
    });
    const line = new RequestLogLine(logger).format(request, outcome, TIME);
    expect(line).not.toContain('secret');
    expect(JSON.parse(line).req.headers).toEqual({
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
    });
  });

  it('cuts a long path to its first 200 characters and an ellipsis', () => {
    const { logger } = capture();
    const long = `/admin/clients/${'a'.repeat(3000)}`;
    const line = new RequestLogLine(logger).format(requestOf(`${long}?x=1`, {}), outcome, TIME);
    expect(JSON.parse(line).req.url).toBe(`${long.slice(0, MAX_LOGGED_PATH)}…`);
    expect(line.length).toBeLessThan(600);
    const exact = `/${'b'.repeat(MAX_LOGGED_PATH - 1)}`;
    expect(
      JSON.parse(new RequestLogLine(logger).format(requestOf(exact, {}), outcome, TIME)).req.url,
    ).toBe(exact);
  });

  it('writes a credential sent as a path segment as [redacted], also when cut short', () => {
    const { logger } = capture();
    const url = (path: string) =>
      JSON.parse(new RequestLogLine(logger).format(requestOf(path, {}), outcome, TIME)).req.url;
    const refresh = `rt_${'Q'.repeat(43)}`;
    expect(url(`/tokens/${refresh}`)).toBe('/tokens/[redacted]');
    const jwt = `eyJhbGciOiJSUzI1NiJ9.${'e'.repeat(400)}.${'s'.repeat(342)}`;
    expect(url(`/tokens/${jwt}?x=1`)).toBe('/tokens/[redacted]'); // cut at 200, then redacted
    expect(url(`/admin/api-keys/tsk_live_${'k'.repeat(40)}`)).toBe('/admin/api-keys/[redacted]');
    // Identifiers stay as they are.
    expect(url('/tokens/01a252d2-f4f1-7852-aa54-3ae2b7068b57')).toBe(
      '/tokens/01a252d2-f4f1-7852-aa54-3ae2b7068b57',
    );
    expect(url('/admin/clients/port_service')).toBe('/admin/clients/port_service');
  });

  it('writes through the logger destination, and not below the logger level', async () => {
    const info = capture();
    new RequestLogLine(info.logger).write(requestOf('/v1/infer', {}), outcome);
    await flushed();
    expect(info.lines).toHaveLength(1);
    expect(JSON.parse(info.lines[0])).toMatchObject({ msg: 'request completed', status: 200 });

    const quiet = capture('warn');
    const sut = new RequestLogLine(quiet.logger);
    sut.write(requestOf('/v1/infer', {}), outcome);
    sut.write(requestOf('/v1/infer', {}), { ...outcome, status: 502 });
    await flushed();
    expect(quiet.lines.map((l) => JSON.parse(l).status)).toEqual([502]);
  });
});
