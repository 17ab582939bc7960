import { Client } from 'pg';
import { Agent, fetch } from 'undici';
import { freePort } from '../src/database/embedded-postgres';
import { createDatabase, dropDatabase } from './support/app';
import { bearer, CLIENTS, clientsJson, tokenFor } from './support/factories';
import { FakeOpenAi, startFakeOpenAi } from './support/fake-openai';
import { policyFile, standardPolicy } from './support/policy';
import { startServerProcess } from './support/process';

function databaseUrl(database: string): string {
  const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * The ledger is written in batches off the request path; a SIGTERM must still lose nothing: every
 * call answered 200 before the process exited is in PostgreSQL afterwards.
 */
describe('usage ledger across a SIGTERM under load (a real server process)', () => {
  let database: string;
  let upstream: FakeOpenAi;

  beforeAll(async () => {
    database = await createDatabase();
    upstream = await startFakeOpenAi({ models: ['llama-3-8b'] });
  });

  afterAll(async () => {
    await upstream?.close();
    await dropDatabase(database);
  });

  it('keeps every answered call in the ledger', async () => {
    const server = await startServerProcess(await freePort(), {
      DATABASE_URL: databaseUrl(database),
      JWT_ISSUER: 'http://tessera.test',
      AUTH_CLIENTS_JSON: clientsJson(),
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64'),
      UPSTREAM_URL: upstream.url,
      AUTH_POLICY_FILE: policyFile(standardPolicy()), // no request limits in the way
    });
    const token = await tokenFor(server.url, CLIENTS.operator);
    // The load's own connection pool, closed when the load stops, as a client that goes away
    // would: the server's drain waits for keep-alive connections that stay open (see README).
    const agent = new Agent({ connections: 8 });
    let answered = 0;
    let stopping = false;
    const call = (i: number) =>
      fetch(`${server.url}/v1/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'llama-3-8b',
          stream: i % 2 === 0,
          messages: [{ role: 'user', content: 'a b c' }],
        }),
      }).then(async (response) => {
        const text = await response.text(); // the whole answer (a stream to its end)
        if (response.status === 200 && text.includes('five')) answered++;
        else throw new Error(`answered ${response.status}`); // 503 while draining: stop
      });
    // 8 concurrent loops, bounded in count; each stops at its first refusal (503 or a closed port).
    const loops = Array.from({ length: 8 }, async (_, loop) => {
      for (let i = 0; i < 500 && !stopping; i++) {
        try {
          await call(loop + i);
        } catch {
          return;
        }
      }
    });
    // Under load: SIGTERM once 30 calls are answered and more are in flight.
    const deadline = Date.now() + 60_000;
    while (answered < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise<number | null>((resolve) =>
      server.process.once('exit', (code) => resolve(code)),
    );
    server.process.kill('SIGTERM');
    await Promise.all(loops);
    stopping = true;
    await agent.close();
    const code = await exited;
    expect({ code, output: code === 0 ? '' : server.output().slice(-6000) }).toEqual({
      code: 0,
      output: '',
    });
    expect(answered).toBeGreaterThanOrEqual(30);

    const db = new Client({ connectionString: databaseUrl(database) });
    await db.connect();
    try {
      const { rows } = await db.query(
        `SELECT sum(requests)::int AS requests, sum(prompt_tokens)::int AS prompt,
                sum(completion_tokens)::int AS completion
           FROM usage_ledger WHERE subject = $1 AND model = 'llama-3-8b'`,
        [CLIENTS.operator.id],
      );
      expect(rows[0]).toEqual({
        requests: answered,
        prompt: answered * 3,
        completion: answered * 5,
      });
    } finally {
      await db.end();
    }
  }, 120_000);
});
