import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/database/embedded-postgres';
import { createDatabase, dropDatabase } from './support/app';

const root = join(__dirname, '..');

/** Runs `src/main.ts` as a real process (transpiled on the fly) and collects how it ends. */
function start(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'src/main.ts'],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process did not exit in time; stderr: ${stderr}`));
    }, 45_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe('start-up as a process', () => {
  it.each([
    [
      { PORT: 'abc' },
      'Invalid configuration: PORT must be a whole number from 0 to 65535 (got "abc")',
    ],
    [
      { KEY_ROTATION_INTERVAL: 'monthly' },
      'Invalid configuration: KEY_ROTATION_INTERVAL must be a duration such as 3600s, 30m, 24h, 7d or 4w (got "monthly")',
    ],
    [
      { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'too-short' },
      'Invalid configuration: JWT_SECRET_KEY must be set and at least 32 characters long when JWT_ALGORITHM=HS256',
    ],
    [
      { NODE_ENV: 'production' },
      'Invalid configuration: KEY_ENCRYPTION_KEY is required when NODE_ENV=production',
    ],
    [
      { AUTH_POLICY_FILE: 'config/does-not-exist.yaml' },
      expect.stringContaining('AUTH_POLICY_FILE: cannot read config/does-not-exist.yaml'),
    ],
  ])(
    'refuses %p with exit code 1 and exactly one JSON line naming the variable',
    async (env, message) => {
      const result = await start(env as Record<string, string>);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('');
      const lines = result.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const variable =
        Object.keys(env).find((name) => name !== 'JWT_ALGORITHM' && name !== 'NODE_ENV') ??
        'KEY_ENCRYPTION_KEY';
      expect(JSON.parse(lines[0])).toEqual({
        level: 60,
        time: expect.any(Number),
        pid: expect.any(Number),
        hostname: expect.any(String),
        context: 'Tessera',
        variable,
        msg: message,
      });
    },
  );

  it('fails fast with a clear line when PostgreSQL cannot be reached, and no stack trace', async () => {
    const port = await freePort();
    const result = await start({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/tessera`,
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    const line = `Cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED): check DATABASE_URL and that the server is running`;
    expect(result.code).toBe(1);
    // Said once, as a JSON line (it was also printed as text on stderr).
    expect(result.stderr).toBe('');
    // The log: JSON lines from the first (no coloured text from before the logger was set), the
    // retries as warnings, no stack frames.
    const lines = result.stdout.trim().split('\n');
    for (const text of lines) expect(() => JSON.parse(text)).not.toThrow();
    expect(result.stdout).not.toMatch(/\n\s+at |"stack"/);
    const parsed = lines.map((t) => JSON.parse(t) as { level: number; msg: string });
    expect(parsed.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      `${line}; retrying in 1 s (1/2)`,
      `${line}; retrying in 1 s (2/2)`,
    ]);
    expect(parsed.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([line]);
  });

  it.each([
    [
      'a database that does not exist',
      (url: URL) => (url.pathname = '/tessera_no_such_database'),
      'The database in DATABASE_URL does not exist (database "tessera_no_such_database" does not exist)',
    ],
    [
      'a user PostgreSQL does not know',
      (url: URL) => {
        url.username = 'tessera_no_such_user';
        url.password = 'not-the-password-7f3a';
      },
      expect.stringMatching(
        /^PostgreSQL refused the credentials in DATABASE_URL \(.*tessera_no_such_user/,
      ),
    ],
  ])(
    'stops at once on %s: one line saying so, no stack trace, no retries',
    async (_name, edit, message) => {
      const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
      edit(url);
      const result = await start({ DATABASE_URL: url.toString(), PORT: '0', LOG_LEVEL: 'info' });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('');
      const lines = result.stdout.trim().split('\n');
      const parsed = lines.map((t) => JSON.parse(t) as { level: number; msg: string });
      // It logged the pg error's stack (a "stack" field of frames) as an ExceptionHandler line.
      expect(result.stdout).not.toMatch(/\\n\s+at |"stack"|"err"/);
      expect(parsed.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([message]);
      expect(result.stdout).not.toContain('not-the-password-7f3a');
    },
  );

  it('names the listen address, not the database, when HOST cannot be bound', async () => {
    const database = await createDatabase();
    try {
      const result = await start({
        DATABASE_URL: databaseUrl(database),
        HOST: '192.0.2.1', // TEST-NET-1: not an address of this machine
        PORT: '0',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-startup-')),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout.trim())).toMatchObject({
        level: 60,
        msg: 'Cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL): check HOST and PORT',
      });
    } finally {
      await dropDatabase(database);
    }
  });

  // WORKERS=2: the primary binds the port for its workers and a worker saw "bind EADDRINUSE",
  // which was reported as "Tessera failed to start: bind EADDRINUSE 127.0.0.1:…".
  it.each(['1', '2'])(
    'names the port in use, and what to do, with WORKERS=%s',
    async (workers) => {
      const database = await createDatabase();
      const taken = createServer();
      const port = await freePort();
      await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
      try {
        const result = await start({
          DATABASE_URL: databaseUrl(database),
          PORT: String(port),
          WORKERS: workers,
          DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-startup-')),
        });
        expect(result.code).toBe(1);
        expect(result.stderr).toBe('');
        const fatal = result.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { level: number; msg: string })
          .filter((line) => line.level === 60);
        expect(fatal.map((line) => line.msg)).toEqual([
          `Cannot listen on 127.0.0.1:${port}: the port is in use. Set PORT (or HOST) to a free address`,
        ]);
      } finally {
        taken.close();
        await dropDatabase(database);
      }
    },
    60_000,
  );
});

describe('start-up with the wrong KEY_ENCRYPTION_KEY', () => {
  it('says the key cannot decrypt the stored signing key (it blamed HOST and PORT)', async () => {
    const database = await createDatabase();
    try {
      const env = {
        DATABASE_URL: databaseUrl(database),
        PORT: String(await freePort()),
        DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-startup-')),
      };
      // The first start creates and encrypts a signing key with key A; stop it once ready.
      const first = spawn(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', 'src/main.ts'],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            ...env,
            KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
          },
        },
      );
      const exited = new Promise((r) => first.once('exit', r));
      for (const deadline = Date.now() + 45_000; ;) {
        const ready = await fetch(`http://127.0.0.1:${env.PORT}/health/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline || first.exitCode !== null) throw new Error('first start');
        await new Promise((r) => setTimeout(r, 200));
      }
      first.kill('SIGTERM');
      await exited;

      const result = await start({
        ...env,
        KEY_ENCRYPTION_KEY: Buffer.alloc(32, 2).toString('base64'),
      });
      expect(result.code).toBe(1);
      const fatal = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.level >= 50);
      expect(fatal).toHaveLength(1);
      expect(fatal[0].msg).toMatch(
        /^Cannot decrypt signing key \S+: KEY_ENCRYPTION_KEY is not the key it was encrypted with$/,
      );
    } finally {
      await dropDatabase(database);
    }
  }, 120_000);
});

function databaseUrl(database: string): string {
  const url = new URL(process.env.TEST_ADMIN_DATABASE_URL as string);
  url.pathname = `/${database}`;
  return url.toString();
}
