/**
 * An expected condition that stops start-up (an unreachable database, an address it cannot listen
 * on): its message is the whole story, logged and printed without a stack trace.
 */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Network errors that mean "PostgreSQL cannot be reached (yet)": worth a retry at start-up. */
export function isUnreachable(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return (
    e?.code === 'ECONNREFUSED' ||
    e?.code === 'ENOTFOUND' ||
    e?.code === 'ETIMEDOUT' ||
    e?.code === 'EAI_AGAIN' ||
    e?.code === '57P03' || // the database system is starting up
    /timeout exceeded when trying to connect/i.test(e?.message ?? '')
  );
}

/**
 * PostgreSQL answered and refused the connection for a reason a retry cannot change: the
 * database in DATABASE_URL does not exist (3D000), the credentials are wrong (28P01) or the
 * server's pg_hba.conf lets no such connection in (28000). An expected condition of a bad
 * DATABASE_URL: one line ({@link describeStartupError}), never a stack trace.
 */
export function isRefusedByDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '3D000' || code === '28P01' || code === '28000';
}

/**
 * `app.listen` failed. The address is the problem (HOST, PORT) only when the socket's `listen`
 * failed: `listen` also runs the modules' start-up hooks, whose errors (a KEY_ENCRYPTION_KEY that
 * cannot decrypt the stored keys) were blamed on HOST and PORT. Those are returned as they are.
 * A cluster worker's socket is bound by the primary, which reports a failure as syscall `bind`
 * (`bind EADDRINUSE 127.0.0.1:3000`): the same problem, said the same way.
 */
export function listenFailure(error: unknown, host: string, port: number): unknown {
  const e = error as { code?: string; message?: string; syscall?: string };
  if (e?.syscall !== 'listen' && e?.syscall !== 'bind') return error;
  if (e?.code === 'EADDRINUSE')
    return new StartupError(
      `Cannot listen on ${host}:${port}: the port is in use. Set PORT (or HOST) to a free address`,
      e.code,
    );
  return new StartupError(
    `Cannot listen on ${host}:${port} (${e?.code ?? e?.message ?? String(error)}): check HOST and PORT`,
    e?.code,
  );
}

/** One line for an error that stops start-up (unreachable database, bad key file, …). */
export function describeStartupError(error: unknown): string {
  if (error instanceof StartupError) return error.message;
  const e = error as { code?: string; message?: string; address?: string; port?: number };
  if (isUnreachable(e)) {
    const where = e.address
      ? `${e.address}${e.port ? ':' + e.port : ''}`
      : 'the configured address';
    return `Cannot reach PostgreSQL at ${where} (${e.code ?? 'connection timeout'}): check DATABASE_URL and that the server is running`;
  }
  if (e?.code === '28P01' || e?.code === '28000')
    return `PostgreSQL refused the credentials in DATABASE_URL (${e.message})`;
  if (e?.code === '3D000') return `The database in DATABASE_URL does not exist (${e.message})`;
  // Tessera's own refusal of its configuration (a key it cannot decrypt): the message says it.
  if (e?.code === 'misconfigured' && e.message) return e.message;
  return `Tessera failed to start: ${e?.message ?? String(error)}`;
}
