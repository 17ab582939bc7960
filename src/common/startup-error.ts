/** One line for an error that stops start-up (unreachable database, bad key file, …). */
export function describeStartupError(error: unknown): string {
  const e = error as { code?: string; message?: string; address?: string; port?: number };
  if (
    e?.code === 'ECONNREFUSED' ||
    e?.code === 'ENOTFOUND' ||
    e?.code === 'ETIMEDOUT' ||
    /timeout exceeded when trying to connect/i.test(e?.message ?? '')
  ) {
    const where = e.address
      ? `${e.address}${e.port ? ':' + e.port : ''}`
      : 'the configured address';
    return `Cannot reach PostgreSQL at ${where} (${e.code ?? 'connection timeout'}): check DATABASE_URL and that the server is running`;
  }
  if (e?.code === '28P01' || e?.code === '28000')
    return `PostgreSQL refused the credentials in DATABASE_URL (${e.message})`;
  if (e?.code === '3D000') return `The database in DATABASE_URL does not exist (${e.message})`;
  if (e?.code === 'EADDRINUSE')
    return `Cannot listen: ${e.message}. Set PORT or HOST to a free address`;
  return `Tessera failed to start: ${e?.message ?? String(error)}`;
}
