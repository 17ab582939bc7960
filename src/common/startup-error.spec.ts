import { describeStartupError, isRefusedByDatabase, isUnreachable } from './startup-error';

/** Errors as node-postgres raises them when the server answers a connection with FATAL. */
function pgError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code, severity: 'FATAL' });
}

describe('isRefusedByDatabase', () => {
  it('is true for a database that does not exist and for refused credentials', () => {
    const missing = pgError('3D000', 'database "nope" does not exist');
    const password = pgError('28P01', 'password authentication failed for user "tessera"');
    const hba = pgError('28000', 'no pg_hba.conf entry for host "10.0.0.7", user "x"');
    for (const error of [missing, password, hba]) {
      expect(isRefusedByDatabase(error)).toBe(true);
      // Not worth a retry: a second attempt gets the same answer.
      expect(isUnreachable(error)).toBe(false);
    }
    expect(describeStartupError(missing)).toBe(
      'The database in DATABASE_URL does not exist (database "nope" does not exist)',
    );
    expect(describeStartupError(password)).toBe(
      'PostgreSQL refused the credentials in DATABASE_URL (password authentication failed for user "tessera")',
    );
  });

  it('is false for an unreachable server and for errors of queries', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(isRefusedByDatabase(refused)).toBe(false);
    expect(isRefusedByDatabase(pgError('42P01', 'relation "users" does not exist'))).toBe(false);
    expect(isRefusedByDatabase(new Error('boom'))).toBe(false);
    expect(isRefusedByDatabase(undefined)).toBe(false);
  });
});
