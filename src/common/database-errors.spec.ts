import { isDatabaseUnavailable, redactDatabaseMessage } from './database-errors';

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a connection exception SQLSTATE', { code: '08006', message: 'x' }],
    ['PostgreSQL crashed (57P02)', { code: '57P02', message: 'x' }],
    ['a refused connection', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }],
    ['a connection that ended mid-query', new Error('Connection terminated unexpectedly')],
    [
      'a client pg closed after its connection died',
      new Error('Client was closed and is not queryable'),
    ],
    [
      'a client pg marked broken',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    [
      'TypeORM wrapping the driver error',
      { message: 'query failed', driverError: { code: '57P01' } },
    ],
    [
      'a database closed to connections (ALLOW_CONNECTIONS false)',
      { code: '55000', message: 'database "tessera" is not currently accepting connections' },
    ],
    ['the database dropped', { code: '3D000', message: 'database "tessera" does not exist' }],
    ['the login refused', { code: '28P01', message: 'password authentication failed' }],
  ])('%s: yes (503)', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505', message: 'duplicate key value' }],
    [
      'another prerequisite-state error (55000)',
      { code: '55000', message: 'currval of sequence "s" is not yet defined in this session' },
    ],
    ['a programming error', new TypeError('x is not a function')],
    ['nothing', undefined],
  ])('%s: no (a bug, 500)', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});

describe('redactDatabaseMessage', () => {
  it('hides quoted input and key values', () => {
    expect(redactDatabaseMessage('invalid input syntax for type uuid: "tsk_secret"')).toBe(
      'invalid input syntax for type uuid: [redacted]',
    );
    expect(redactDatabaseMessage('Key (email)=(a@b.c) already exists.')).toBe(
      'Key (email)=([redacted]) already exists.',
    );
  });
});
