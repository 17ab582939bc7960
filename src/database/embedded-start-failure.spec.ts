import { embeddedStartFailure } from './embedded-postgres';

describe('embeddedStartFailure', () => {
  it('names a data directory of another PostgreSQL major version, with what to do', () => {
    const message = embeddedStartFailure(
      '/data/pg',
      undefined, // what the package rejects with
      [
        '2026-12-07 20:30:00.000 UTC [1] FATAL:  database files are incompatible with server',
        '2026-12-07 20:30:00.000 UTC [1] DETAIL:  The data directory was initialized by PostgreSQL version 17, which is not compatible with this version 18.4.',
      ],
    );
    expect(message).toBe(
      'The embedded PostgreSQL in /data/pg did not start: database files are incompatible with server (The data directory was initialized by PostgreSQL version 17, which is not compatible with this version 18.4.): its data was written by another PostgreSQL major version — move DATA_DIR aside (or dump and restore it with that version), or set DATABASE_URL',
    );
  });

  it('uses the last FATAL line, else the error, never "undefined"', () => {
    expect(
      embeddedStartFailure('/d', new Error('x'), ['LOG: starting', 'FATAL:  could not open file']),
    ).toBe('The embedded PostgreSQL in /d did not start: could not open file');
    expect(embeddedStartFailure('/d', new Error('spawn EACCES'), [])).toBe(
      'The embedded PostgreSQL in /d did not start: spawn EACCES',
    );
    expect(embeddedStartFailure('/d', undefined, [])).toBe(
      'The embedded PostgreSQL in /d did not start: it exited without saying why',
    );
  });
});
