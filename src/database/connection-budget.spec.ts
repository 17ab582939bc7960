import { Logger } from '@nestjs/common';
import { connectionsNeeded, embeddedMaxConnections } from './embedded-postgres';
import { DatabaseLocator } from './database-locator';

describe('connections a server may open', () => {
  it('counts each process’s pool, its LISTEN and start-up connections, and ten for the CLI', () => {
    expect(connectionsNeeded(1, 10)).toBe(22);
    expect(connectionsNeeded(16, 10)).toBe(202);
  });

  it('sizes the embedded PostgreSQL for them, never below PostgreSQL’s default of 100', () => {
    expect(embeddedMaxConnections(1, 10)).toBe(100);
    expect(embeddedMaxConnections(2, 60)).toBe(134);
    expect(embeddedMaxConnections(16, 10)).toBe(202);
  });
});

describe('DatabaseLocator.warnIfTooFewConnections', () => {
  const locator = (poolSize: number) =>
    new DatabaseLocator({
      url: undefined,
      dataDir: '.',
      queryTimeoutMs: 1000,
      poolSize,
      workers: 1,
    });

  afterEach(() => jest.restoreAllMocks());

  it('warns when the pools may open more than max_connections, in the first process only', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    locator(10).warnIfTooFewConnections(100, 16, false);
    expect(warn).not.toHaveBeenCalled();
    locator(10).warnIfTooFewConnections(100, 16, true);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      'PostgreSQL allows 100 connections; 16 process(es) with DATABASE_POOL_SIZE=10 may open 202 ' +
        '(with the CLI’s): raise max_connections, or lower DATABASE_POOL_SIZE or WORKERS',
    );
  });

  it('says nothing when they fit', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    locator(10).warnIfTooFewConnections(100, 4, true);
    expect(warn).not.toHaveBeenCalled();
  });
});
