import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { bearer, CLIENTS, createClient, tokenFor } from './support/factories';
import { startTestApp, TestApp } from './support/app';
import { freePort } from '../src/database/embedded-postgres';
import { isAlive } from './support/process';

const ROOT = join(__dirname, '..');
// Each command is a Node process (about 0.5 s, more with a database); the build runs once.
jest.setTimeout(60_000);
const SECRET = 'cli-test-shared-secret-0123456789abcdef';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `npx tessera …` as a real process (bin/tessera.js → dist/src/cli/main.js), against the test
 * app's database. The environment is the test app's, so tokens carry its issuer.
 */
describe('tessera CLI (real processes)', () => {
  let sut: TestApp;
  let env: Record<string, string>;

  function tessera(
    args: string[],
    options: { env?: Record<string, string | undefined>; input?: string } = {},
  ): Promise<Result> {
    return new Promise((resolve, reject) => {
      const merged: Record<string, string | undefined> = { ...env, ...options.env };
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'tessera.js'), ...args], {
        cwd: ROOT,
        env: Object.fromEntries(
          Object.entries(merged).filter((entry): entry is [string, string] => !!entry[1]),
        ),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(options.input ?? '');
    });
  }

  beforeAll(async () => {
    // Compile the current sources once; every command below runs the compiled CLI.
    const build = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (build.status !== 0) throw new Error(`nest build failed: ${build.stdout}${build.stderr}`);
    sut = await startTestApp();
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: sut.databaseUrl,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-cli-')),
      JWT_ISSUER: sut.url,
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    };
  }, 120_000);

  afterAll(async () => {
    await sut?.close();
  });

  it('answers --help on every command with exit code 0', async () => {
    const commands = [
      [],
      ['token'],
      ['keys'],
      ['keys', 'generate'],
      ['keys', 'rotate'],
      ['keys', 'retire'],
      ['keys', 'list'],
      ['clients', 'create'],
      ['users', 'create'],
      ['api-keys', 'create'],
      ['revoke'],
      ['audit'],
      ['usage'],
      ['migrate'],
    ];
    // A few at a time: thirteen Node processes at once starve a loaded 2-core machine.
    const results: Result[] = [];
    for (let i = 0; i < commands.length; i += 3)
      results.push(
        ...(await Promise.all(commands.slice(i, i + 3).map((c) => tessera([...c, '--help'])))),
      );
    results.forEach((result, i) => {
      expect({ command: commands[i], code: result.code }).toEqual({
        command: commands[i],
        code: 0,
      });
      expect(result.stdout).toMatch(/Usage: tessera/);
    });
    // The program is `tessera` however it is started (commander named it after the script).
    const direct = spawnSync(
      process.execPath,
      [join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'audit', 'export', '--help'],
      { cwd: ROOT, env, encoding: 'utf8' },
    );
    expect(direct.status).toBe(0);
    expect(direct.stdout).toMatch(/^Usage: tessera audit export \[options\]/);
  });

  describe('token', () => {
    it('prints an HS256 token from --secret with the requested lifetime, roles and scope', async () => {
      const result = await tessera([
        'token',
        '--subject',
        'my-service',
        '--expires-in',
        '7d',
        '--algorithm',
        'HS256',
        '--secret',
        SECRET,
        '--scope',
        'model:invoke',
        '--roles',
        'operator',
      ]);
      expect(result.code).toBe(0);
      const token = result.stdout.trim();
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({
        sub: 'my-service',
        iss: sut.url,
        aud: 'tessera',
        scope: 'model:invoke',
        roles: ['operator'],
      });
      expect((claims.exp as number) - (claims.iat as number)).toBe(7 * 86400);
    });

    it('takes the secret from JWT_SECRET_KEY (HS256 implied by --secret) and can leave exp out', async () => {
      const implied = await tessera(['token', '--secret', SECRET]);
      expect(implied.code).toBe(0);
      expect(decodeProtectedHeader(implied.stdout.trim()).alg).toBe('HS256');
      const result = await tessera(['token', '--expires-in', 'never'], {
        env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: SECRET },
      });
      expect(result.code).toBe(0);
      expect(decodeJwt(result.stdout.trim()).exp).toBeUndefined();
    });

    it('signs with the database’s active key by default; the server accepts the token', async () => {
      const result = await tessera(['token', '--subject', 'cli-user', '--roles', 'operator']);
      expect(result.code).toBe(0);
      const token = result.stdout.trim();
      expect(decodeProtectedHeader(token).alg).toBe('RS256');
      const response = await sut
        .http()
        .post('/v1/infer')
        .set(bearer(token))
        .send({ prompt: 'from the CLI' });
      expect(response.status).toBe(200);
      expect(response.body.sub).toBe('cli-user');
      // Recorded like every token signed with the database's key (never the token itself).
      const { jti } = decodeJwt(token);
      const audit = await tessera(['audit', '--action', 'token.issue', '--target', String(jti)]);
      expect(JSON.parse(audit.stdout).events).toEqual([
        expect.objectContaining({
          actor: 'cli',
          details: expect.objectContaining({ grant: 'cli', subject: 'cli-user' }),
        }),
      ]);
      expect(audit.stdout).not.toContain(token);
    });

    it('exits 1 on a configuration error: no secret, or one shorter than 32 characters', async () => {
      const missing = await tessera(['token', '--algorithm', 'HS256']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/JWT_SECRET_KEY/);
      const short = await tessera(['token', '--algorithm', 'HS256', '--secret', 'too-short']);
      expect(short.code).toBe(1);
      expect(short.stderr).toMatch(/32 characters/);
      expect(short.stdout).toBe('');
    });

    it('exits 2 on bad arguments', async () => {
      const cases = [
        ['token', '--algorithm', 'HS256', '--secret', SECRET, '--expires-in', 'soon'],
        ['token', '--algorithm', 'none'],
        ['token', '--expires-in', 'never'],
        ['token', '--roles', 'wizard', '--algorithm', 'HS256', '--secret', SECRET],
        ['token', '--no-such-option'],
      ];
      const results = await Promise.all(cases.map((c) => tessera(c)));
      results.forEach((result, i) => {
        expect({ args: cases[i], code: result.code }).toEqual({ args: cases[i], code: 2 });
        expect(result.stdout).toBe('');
      });
    });
  });

  describe('keys', () => {
    it('lists, rotates (soft and hard) and retires keys', async () => {
      const before = await tessera(['keys', 'list']);
      expect(before.code).toBe(0);
      const kidWith = (listing: string, status: string) =>
        listing
          .split('\n')
          .find((line) => line.split('\t')[2] === status)
          ?.split('\t')[0];
      const first = kidWith(before.stdout, 'active') as string;
      const published = kidWith(before.stdout, 'next');
      expect(first).toBeDefined();
      expect(published).toBeDefined();

      const soft = await tessera(['keys', 'rotate']);
      expect(soft.code).toBe(0);
      const second = soft.stdout.trim();
      // A soft rotation activates the key that was already published as next.
      expect(second).toBe(published);
      const afterSoft = (await tessera(['keys', 'list'])).stdout;
      expect(afterSoft).toContain(`${second}\tRS256\tactive`);
      expect(afterSoft).toContain(`${first}\tRS256\tretiring`);

      // A thumbprint kid starts with '-' one time in 64: then it goes after `--` (as below).
      const retired = await tessera(
        first.startsWith('-') ? ['keys', 'retire', '--', first] : ['keys', 'retire', first],
      );
      expect(retired.code).toBe(0);
      expect(retired.stdout).toContain(`${first}\tRS256\tretired`);
      const unknown = await tessera(['keys', 'retire', 'no-such-kid']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/no-such-kid/);
      // A kid may start with '-' (base64url): after `--` it is the argument, not an option.
      const dashed = await tessera(['keys', 'retire', '--', '-no-such-kid']);
      expect(dashed.code).toBe(1);
      expect(dashed.stderr).toContain('No signing key with kid "-no-such-kid"');

      const beforeHard = (await tessera(['keys', 'list'])).stdout;
      const verifying = beforeHard
        .trim()
        .split('\n')
        .filter((line) => line.split('\t')[2] !== 'retired')
        .map((line) => line.split('\t')[0]);
      const hard = await tessera(['keys', 'rotate', '--hard']);
      expect(hard.code).toBe(0);
      const third = hard.stdout.trim();
      const afterHard = (await tessera(['keys', 'list'])).stdout;
      expect(afterHard).toContain(`${third}\tRS256\tactive`);
      expect(afterHard).toContain(`${second}\tRS256\tretired`);

      // Recorded as the API records them: a CLI rotation said only {mode, automatic}, a CLI
      // retirement only {automatic}, and a hard one left its retired kids unrecorded.
      type Event = {
        action: string;
        actor: string;
        target: string;
        details: Record<string, unknown>;
      };
      const keyEvents = async (action: string) =>
        (
          JSON.parse((await tessera(['audit', '--action', action, '--actor', 'cli'])).stdout) as {
            events: Event[];
          }
        ).events;
      const rotations = await keyEvents('keys.rotate');
      expect(rotations.find((e) => e.target === second)?.details).toEqual({
        mode: 'soft',
        automatic: false,
        before: { active: first, next: second, retiring: expect.any(Array) },
        after: {
          active: second,
          next: expect.any(String),
          retiring: expect.arrayContaining([first]),
        },
        retired: [],
      });
      const hardEvent = rotations.find((e) => e.target === third);
      expect(hardEvent?.details).toMatchObject({
        mode: 'hard',
        automatic: false,
        after: { active: third, retiring: [] },
      });
      expect((hardEvent?.details.retired as string[]).sort()).toEqual([...verifying].sort());
      const retirements = await keyEvents('keys.retire');
      expect(retirements.find((e) => e.target === first)?.details).toEqual({
        automatic: false,
        before: { status: 'retiring', retiredAt: null },
        after: { status: 'retired', retiredAt: expect.any(String) },
      });
      for (const kid of verifying)
        expect(retirements.find((e) => e.target === kid)?.details).toMatchObject({
          automatic: false,
          reason: 'hard rotation',
          rotated_to: third,
          after: { status: 'retired' },
        });
    });

    it('generates a PEM private key or an HS256 secret without a database', async () => {
      const pem = await tessera(['keys', 'generate', '--algorithm', 'ES256'], {
        env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      });
      expect(pem.code).toBe(0);
      expect(pem.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const secret = await tessera(['keys', 'generate', '-a', 'HS256']);
      expect(secret.code).toBe(0);
      expect(secret.stdout.trim().length).toBeGreaterThanOrEqual(32);
      expect((await tessera(['keys', 'generate', '-a', 'XX999'])).code).toBe(2);
    });

    it('refuses key commands in HS256 mode with exit code 1', async () => {
      const result = await tessera(['keys', 'rotate'], {
        env: { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: SECRET },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/HS256/);
    });
  });

  describe('clients create', () => {
    it('creates a client whose secret works at the token endpoint', async () => {
      const result = await tessera([
        'clients',
        'create',
        '--id',
        'cli-made',
        '--roles',
        'operator',
      ]);
      expect(result.code).toBe(0);
      const created = JSON.parse(result.stdout);
      expect(created).toMatchObject({ client_id: 'cli-made', roles: ['operator'] });
      const token = await sut
        .http()
        .post('/oauth/token')
        .auth('cli-made', created.client_secret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(token.status).toBe(200);
    });

    it('exits 1 for a duplicate id and 2 for an unknown role or grant type', async () => {
      expect((await tessera(['clients', 'create', '--id', 'cli-made'])).code).toBe(1);
      expect((await tessera(['clients', 'create', '--roles', 'wizard'])).code).toBe(2);
      expect((await tessera(['clients', 'create', '--grant-types', 'implicit'])).code).toBe(2);
    });
  });

  describe('users create', () => {
    it('creates a user with a generated password that logs in', async () => {
      const result = await tessera([
        'users',
        'create',
        '--email',
        'Cli.User@Example.com',
        '--name',
        'Cli',
      ]);
      expect(result.code).toBe(0);
      const user = JSON.parse(result.stdout);
      expect(user).toMatchObject({
        email: 'Cli.User@Example.com',
        name: 'Cli',
        roles: ['operator'],
      });
      expect(user.oid).toMatch(/^[0-9a-f-]{36}$/);
      const login = await sut
        .http()
        .post('/auth/login')
        .send({ email: 'cli.user@example.com', password: user.password });
      expect(login.status).toBe(200);
      expect(login.body.claims.oid).toBe(user.oid);
    });

    it('reads the password from stdin with --password-stdin', async () => {
      const result = await tessera(
        [
          'users',
          'create',
          '--email',
          'stdin@example.com',
          '--password-stdin',
          '--roles',
          'viewer',
        ],
        { input: 'a password from stdin\n' },
      );
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).password).toBeUndefined();
      const login = await sut
        .http()
        .post('/auth/login')
        .send({ email: 'stdin@example.com', password: 'a password from stdin' });
      expect(login.status).toBe(200);
    });

    it('exits 1 for an existing email (any case) and 2 for bad arguments', async () => {
      expect((await tessera(['users', 'create', '--email', 'CLI.USER@example.com'])).code).toBe(1);
      expect((await tessera(['users', 'create', '--email', 'not-an-email'])).code).toBe(2);
      expect((await tessera(['users', 'create'])).code).toBe(2);
      const short = await tessera(
        ['users', 'create', '--email', 'x@example.com', '--password-stdin'],
        {
          input: 'short',
        },
      );
      expect(short.code).toBe(2);
    });
  });

  describe('revoke and audit', () => {
    it('revokes every token of a subject on the running server, and records it', async () => {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      const infer = () => sut.http().post('/v1/infer').set(bearer(token)).send({ prompt: 'x' });
      expect((await infer()).status).toBe(200);
      const result = await tessera([
        'revoke',
        '--client',
        CLIENTS.operator.id,
        '--reason',
        'rotated out',
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        revoked: true,
        client: CLIENTS.operator.id,
      });
      // The server hears of it through NOTIFY: bounded polling, no sleep.
      const deadline = Date.now() + 5000;
      let status = 200;
      while (status !== 401 && Date.now() < deadline) status = (await infer()).status;
      expect(status).toBe(401);
      const audit = await tessera(['audit', '--action', 'token.*', '--limit', '5']);
      expect(audit.code).toBe(0);
      expect(JSON.parse(audit.stdout).events[0]).toMatchObject({
        action: 'token.revoke_client',
        actor: 'cli',
        target: CLIENTS.operator.id,
        details: { reason: 'rotated out' },
      });
    });

    it('lists and exports the audit events of one request (--request-id)', async () => {
      const admin = await tokenFor(sut.url, CLIENTS.admin);
      const requestId = `cli-e2e-${Date.now()}`;
      await createClient(sut, admin, { id: 'cli-request-id' }, { requestId });
      const listed = await tessera(['audit', '--request-id', requestId]);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout).events).toEqual([
        expect.objectContaining({ action: 'client.create', target: 'cli-request-id' }),
      ]);
      const exported = await tessera(['audit', 'export', '--request-id', requestId]);
      expect(exported.code).toBe(0);
      expect(exported.stdout.trim().split('\n')).toHaveLength(1);
      expect(JSON.parse(exported.stdout)).toMatchObject({ requestId, target: 'cli-request-id' });
      // The export itself is in the trail, as an HTTP export is.
      const exports = await tessera(['audit', '--action', 'audit.export', '--limit', '1']);
      expect(JSON.parse(exports.stdout).events[0]).toMatchObject({
        actor: 'cli',
        details: { filter: { requestId } },
      });
    });

    it('exits 2 for ambiguous or bad arguments', async () => {
      expect((await tessera(['revoke'])).code).toBe(2);
      expect((await tessera(['revoke', '--jti', 'a', '--subject', 'b'])).code).toBe(2);
      // A token pasted as the jti is refused before anything is stored, printed or audited.
      const pasted = await tessera(['revoke', '--jti', 'rt_PastedRefreshToken0123456789abcdef']);
      expect(pasted.code).toBe(2);
      expect(pasted.stderr).toContain('not a jti');
      expect(`${pasted.stdout}${pasted.stderr}`).not.toContain('PastedRefreshToken');
      expect((await tessera(['audit', '--limit', '0'])).code).toBe(2);
      // As the HTTP listing reads limit=: no hex, exponent, leading zero or decimal point.
      for (const limit of ['0x10', '1e2', '010', '5.0', ' 10']) {
        const refused = await tessera(['audit', '--limit', limit]);
        expect({ limit, code: refused.code, stderr: refused.stderr }).toEqual({
          limit,
          code: 2,
          stderr: expect.stringContaining('--limit must be a whole number from 1 to 500'),
        });
      }
      expect((await tessera(['audit', '--since', 'yesterday'])).code).toBe(2);
      // A day that does not exist is refused, as by the HTTP API (not rolled into March).
      // Paging options belong to the listing: the export refuses them (as the HTTP export's 400)
      // instead of exporting the whole trail; verify takes no options.
      for (const args of [
        ['audit', 'export', '--limit', '5'],
        ['audit', 'export', '--cursor', 'abc'],
        ['audit', '--limit', '5', 'export'],
      ]) {
        const refused = await tessera(args);
        expect({ args, code: refused.code, stdout: refused.stdout }).toEqual({
          args,
          code: 2,
          stdout: '',
        });
        expect(refused.stderr).toMatch(
          /audit export has no pages: --(limit|cursor) is for the listing/,
        );
      }
      // An empty filter is refused, not read as none (it listed or exported the whole trail).
      for (const args of [
        ['audit', '--actor', ''],
        ['audit', 'export', '--target', ''],
        ['audit', 'export', '--request-id', ''],
        ['audit', '--action', ''],
      ]) {
        const empty = await tessera(args);
        expect({ args, code: empty.code, stdout: empty.stdout }).toEqual({
          args,
          code: 2,
          stdout: '',
        });
        expect(empty.stderr).toContain(
          `${args.find((a) => a.startsWith('--'))} must not be empty: leave it out to match every event`,
        );
      }
      const verify = await tessera(['audit', 'verify', '--actor', 'x']);
      expect(verify.code).toBe(2);
      expect(verify.stderr).toContain('audit verify takes no options (--actor given)');
      // Control characters are refused as the HTTP API refuses them (400 there).
      const control = await tessera(['audit', '--actor', 'a\x01b']);
      expect(control.code).toBe(2);
      expect(control.stderr).toContain(
        '--actor: control characters (such as NUL) and lone surrogates are not allowed',
      );
      const impossible = await tessera(['audit', '--since', '2026-02-30']);
      expect(impossible.code).toBe(2);
      expect(impossible.stderr).toContain('--since is not a real date and time: 2026-02-30');
    });
  });

  describe('usage', () => {
    it('prints the ledger as GET /admin/usage answers it', async () => {
      const token = await tokenFor(sut.url, CLIENTS.operator);
      const chat = await sut
        .http()
        .post('/v1/chat/completions')
        .set(bearer(token))
        .send({ model: 'tessera-echo', messages: [{ role: 'user', content: 'one two three' }] });
      expect(chat.status).toBe(200);
      const admin = await tokenFor(sut.url, CLIENTS.admin);
      const api = await sut
        .http()
        .get('/admin/usage')
        .query({ group_by: 'model', subject: CLIENTS.operator.id })
        .set(bearer(admin));
      const result = await tessera([
        'usage',
        '--group-by',
        'model',
        '--subject',
        CLIENTS.operator.id,
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(api.body);
      expect(api.body.rows[0]).toMatchObject({
        key: 'tessera-echo',
        requests: 1,
        prompt_tokens: 3,
        completion_tokens: 3,
      });
      expect((await tessera(['usage', '--group-by', 'week'])).code).toBe(2);
      expect((await tessera(['usage', '--since', '2026-02-30'])).code).toBe(2);
    });
  });

  it('writes Nest’s warnings to a non-terminal stderr without colour codes', async () => {
    const warned = await tessera(['keys', 'list'], { env: { KEY_ENCRYPTION_KEY: undefined } });
    expect(warned.stderr).toContain('KEY_ENCRYPTION_KEY is unset');
    expect(warned.stderr).not.toContain('\u001b[');
  });

  it('migrate reports an up-to-date database', async () => {
    const result = await tessera(['migrate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/up to date/);
  });

  it('exits 1 naming the variable when JWT_SECRET_KEY is too short for HS256 (CLI and server)', async () => {
    const bad = { JWT_ALGORITHM: 'HS256', JWT_SECRET_KEY: 'short' };
    const cli = await tessera(['token'], { env: bad });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/JWT_SECRET_KEY/);
    const server = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], {
      cwd: ROOT,
      env: { ...env, ...bad, PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(server.status).toBe(1);
    // The server's is a JSON log line, as all its lines are.
    expect(JSON.parse(server.stdout.trim())).toMatchObject({
      level: 60,
      variable: 'JWT_SECRET_KEY',
      msg: expect.stringMatching(/JWT_SECRET_KEY must be set and at least 32 characters/),
    });
  });

  it('npm start: a SIGTERM to npm stops the server it started (nothing left serving)', async () => {
    // npm signals its script's process: the start script execs node, so that is the server, not
    // a shell that would exit and leave the server running without its parent.
    const port = await freePort();
    // --ignore-scripts: the compiled server of beforeAll, without prestart's staleness check.
    const npm = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), JWT_ISSUER: `http://127.0.0.1:${port}` },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => npm.once('exit', resolve));
    const ready = async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
      } catch {
        return false;
      }
    };
    let children: number[] = [];
    try {
      for (const deadline = Date.now() + 45_000; !(await ready());) {
        if (Date.now() > deadline || npm.exitCode !== null) throw new Error('npm start: not ready');
        await new Promise((r) => setTimeout(r, 100));
      }
      children = execFileSync('pgrep', ['-P', String(npm.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map(Number);
      expect(children).toHaveLength(1);
      const args = execFileSync('ps', ['-o', 'args=', '-p', String(children[0])], {
        encoding: 'utf8',
      });
      expect(args).toMatch(/^node dist\/src\/main\.js/);
      npm.kill('SIGTERM');
      expect(
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000, 'running'))]),
      ).toBe(0);
      for (const deadline = Date.now() + 10_000; isAlive(children[0]) && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(children[0])).toBe(false);
      expect(await ready()).toBe(false);
    } finally {
      // Whatever failed above, nothing of this test stays running (a shell's child too).
      const descendants = children.flatMap((pid) => {
        try {
          return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
            .trim()
            .split('\n');
        } catch {
          return [];
        }
      });
      for (const pid of [npm.pid as number, ...children, ...descendants.map(Number)])
        if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
