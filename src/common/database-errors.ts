/**
 * Whether an error means "the database does not answer right now" (down, restarting, paused,
 * out of connections, a timeout) rather than a bug: answered 503 (`temporarily_unavailable` on
 * the OAuth endpoints), never 500. PostgreSQL's SQLSTATE classes 08 (connection exception),
 * 53300 (too many connections), 57P01–57P03 (shutdown, crash, starting up), 57014 (statement
 * timeout / cancel); node-postgres's own connect, read and terminated-connection errors.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error as Record<string, unknown> | undefined, i = 0; e && i < 3; i++) {
    const code = typeof e.code === 'string' ? e.code : '';
    // 08: connection exceptions; 53300 too many connections; 57P0x shutting down, crashed,
    // starting up; 57014 cancelled (a timeout); 3D000 the database is gone; 28xxx the server
    // refuses the login. (A database closed to connections, 55000, by its message below.)
    if (
      code.startsWith('08') ||
      code.startsWith('28') ||
      ['53300', '57P01', '57P02', '57P03', '57014', '3D000'].includes(code)
    )
      return true;
    if (
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(
        code,
      )
    )
      return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (UNAVAILABLE_MESSAGES.test(message)) return true;
    e = e.driverError as Record<string, unknown> | undefined;
  }
  return false;
}

const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed and is not queryable|Connection is not established|connect ECONNREFUSED|the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)|terminating connection|is not currently accepting connections/i;

/**
 * A database error's message, safe to log: PostgreSQL quotes the offending input in some
 * messages (`invalid input syntax for type uuid: "…"`), and that input may be a secret or a
 * token sent in the wrong field. Its `detail` (`Key (email)=(…) already exists`) and the query's
 * parameters are never logged at all.
 */
export function redactDatabaseMessage(message: string): string {
  return message
    .replace(/((?:invalid input|invalid .* value|value) [^:"]*): ".*"/g, '$1: [redacted]')
    .replace(/\(([^()]*)\)=\((.*)\)/g, '($1)=([redacted])');
}
