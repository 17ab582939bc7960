import pino from 'pino';
import { Writable } from 'node:stream';
import { NestPinoLogger, wasLogged } from './logger';
import { StartupError } from './startup-error';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'trace' }, stream) };
}

const flushed = () => new Promise((r) => setImmediate(r));

describe('NestPinoLogger', () => {
  it('writes Nest messages with their context and level', async () => {
    const { lines, logger } = capture();
    const sut = new NestPinoLogger(logger);
    sut.log('started', 'NestApplication');
    sut.warn('KEY_ENCRYPTION_KEY is unset', 'Keys');
    sut.verbose('details', 'Keys');
    await flushed();
    expect(lines.map((l) => [l.level, l.context, l.msg])).toEqual([
      [30, 'NestApplication', 'started'],
      [40, 'Keys', 'KEY_ENCRYPTION_KEY is unset'],
      [10, 'Keys', 'details'],
    ]);
  });

  it('keeps the stack Nest passes with an error', async () => {
    const { lines, logger } = capture();
    new NestPinoLogger(logger).error('boom', 'Error: boom\n    at x', 'Usage');
    new NestPinoLogger(logger).error(new Error('bad'), 'Usage');
    await flushed();
    expect(lines[0]).toMatchObject({ level: 50, context: 'Usage', msg: 'boom' });
    expect((lines[0].err as { stack: string }).stack).toContain('at x');
    expect(lines[1]).toMatchObject({ level: 50, context: 'Usage', msg: 'bad' });
  });

  it("merges a message given as an object (a request's id, so a line joins its request line)", async () => {
    const { lines, logger } = capture();
    const sut = new NestPinoLogger(logger);
    sut.warn({ req: { id: 'req-42' }, msg: 'slow upstream' }, 'Gateway');
    sut.warn('outside', 'Gateway');
    await flushed();
    expect(lines[0]).toMatchObject({
      context: 'Gateway',
      req: { id: 'req-42' },
      msg: 'slow upstream',
    });
    expect(lines[1].req).toBeUndefined();
  });

  it('skips levels the logger does not write', async () => {
    const { lines, logger } = capture();
    logger.level = 'warn';
    const sut = new NestPinoLogger(logger);
    sut.log('quiet');
    sut.debug('quiet');
    sut.warn('loud');
    await flushed();
    expect(lines.map((l) => l.msg)).toEqual(['loud']);
  });
});

describe('wasLogged', () => {
  it('knows an error Nest has logged (so a failed start says it once)', () => {
    const sut = new NestPinoLogger(capture().logger);
    const logged = new StartupError('Cannot reach PostgreSQL');
    sut.error(logged, 'ExceptionHandler');
    expect(wasLogged(logged)).toBe(true);
    expect(wasLogged(new Error('never logged'))).toBe(false);
    expect(wasLogged('text')).toBe(false);
  });

  it('does not count an error its level kept out of the log', () => {
    const sut = new NestPinoLogger(pino({ level: 'silent' }));
    const dropped = new Error('at silent');
    sut.error(dropped, 'ExceptionHandler');
    expect(wasLogged(dropped)).toBe(false);
  });
});
