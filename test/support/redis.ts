import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { freePort } from '../../src/database/embedded-postgres';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A real Redis for the test: TEST_REDIS_URL when set (CI), else a `redis-server` started here on
 * a free port. Never a silent skip: without either, the test fails saying so.
 */
export async function startTestRedis(
  /** A redis-server of the test's own on this port (to stop and start it), even with TEST_REDIS_URL. */
  own?: { port: number },
): Promise<TestRedis> {
  const given = process.env.TEST_REDIS_URL;
  if (given && !own) {
    if (!(await answers(given))) throw new Error(`TEST_REDIS_URL=${given} does not answer PING`);
    return { url: given, stop: async () => undefined };
  }
  if (spawnSync('redis-server', ['--version']).status !== 0)
    throw new Error(
      'Redis is needed for this test: set TEST_REDIS_URL or install redis-server (it is started on a free port)',
    );
  const port = own?.port ?? (await freePort());
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await answers(url)) {
      return {
        url,
        stop: async () => {
          child.kill('SIGTERM');
          await new Promise((resolve) => child.once('exit', resolve));
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
}
