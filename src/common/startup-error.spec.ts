import { createServer, Server } from 'node:net';
import {
  describeStartupError,
  isRefusedByDatabase,
  isUnreachable,
  listenFailure,
  StartupError,
} from './startup-error';

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

/** The error Node gives when `server.listen` finds the port taken (a real one, not a copy). */
async function realListenError(): Promise<NodeJS.ErrnoException> {
  const first = createServer();
  await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
  const port = (first.address() as { port: number }).port;
  const second: Server = createServer();
  try {
    return await new Promise<NodeJS.ErrnoException>((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
  } finally {
    first.close();
  }
}

describe('listenFailure', () => {
  it('names the taken port when listen fails with EADDRINUSE', async () => {
    const error = await realListenError();
    expect(error.syscall).toBe('listen');
    const sut = listenFailure(error, '127.0.0.1', 3000);
    expect(sut).toBeInstanceOf(StartupError);
    expect((sut as StartupError).message).toBe(
      'Cannot listen on 127.0.0.1:3000: the port is in use. Set PORT (or HOST) to a free address',
    );
  });

  it("says the same for a cluster worker, whose socket the primary binds (syscall 'bind')", () => {
    // What node:cluster hands a worker when the primary cannot bind the shared port.
    const error = Object.assign(new Error('bind EADDRINUSE 127.0.0.1:3000'), {
      code: 'EADDRINUSE',
      errno: -98,
      syscall: 'bind',
      address: '127.0.0.1',
      port: 3000,
    });
    const sut = listenFailure(error, '127.0.0.1', 3000);
    expect((sut as StartupError).message).toBe(
      'Cannot listen on 127.0.0.1:3000: the port is in use. Set PORT (or HOST) to a free address',
    );
  });

  it('names the code for other address problems', () => {
    const error = Object.assign(new Error('bind EADDRNOTAVAIL 192.0.2.1:3000'), {
      code: 'EADDRNOTAVAIL',
      syscall: 'bind',
    });
    expect((listenFailure(error, '192.0.2.1', 3000) as StartupError).message).toBe(
      'Cannot listen on 192.0.2.1:3000 (EADDRNOTAVAIL): check HOST and PORT',
    );
  });

  it("returns a start-up hook's error as it is (not blamed on HOST and PORT)", () => {
    const error = Object.assign(new Error('KEY_ENCRYPTION_KEY cannot decrypt'), {
      code: 'misconfigured',
    });
    expect(listenFailure(error, '127.0.0.1', 3000)).toBe(error);
  });
});
