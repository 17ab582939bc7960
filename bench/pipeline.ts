/**
 * `npm run bench -- pipeline`: requests per second, in one run, of
 *   - POST /bench/infer: a @Public() twin of /v1/infer in the same app (same DTO, validation,
 *     global guards and filters; no credentials to check) — the ceiling;
 *   - POST /v1/infer with the full pipeline: API-key probe, JWT verification (or the verified-token
 *     cache), PrincipalFactory (claims, revocation), RBAC, and the rate limiter (memory backend,
 *     limits high enough never to refuse, so every request is counted and answered 200);
 *   - the NestJS docs' guard: AuthGuard('jwt') + passport-jwt with a PEM public key, in a tiny
 *     separate Nest app on Fastify with the same handler (bench/support/docs-style-app.ts);
 * with one reused token, a pool of 10,000 distinct tokens (round-robin), and 10,000 never-seen
 * tokens each used once (the verified-token cache cannot help). The load comes from a second
 * process (bench/support/load-worker.ts). Options: --seconds N (default 8), --connections N (32),
 * --rounds N (2; each scenario reports its best round).
 */
import { writeBenchPolicy } from './support/bench-policy';
import {
  Body,
  Controller,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { fork, ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AppModule } from '../src/app.module';
import { Public } from '../src/access/authenticated.decorator';
import { TokenService } from '../src/oauth/token.service';
import { createApp } from '../src/bootstrap';
import { InferDto } from '../src/inference/dto/infer.dto';
import { KeysService } from '../src/keys/keys.service';
import type { LoadJob, LoadResult } from './support/load-worker';

@Controller('bench')
class PublicInferController {
  /** Same shape as InferenceController.infer, without credentials. */
  @Post('infer')
  @HttpCode(200)
  @Public()
  infer(@Body() dto: InferDto) {
    return {
      ok: true,
      prompt: dto.prompt,
      sub: 'anonymous',
      scope: '',
      jti: null,
      kid: null,
      exp: null,
    };
  }
}

/** Set before the app is created: the PEM public key of the signing key the bench imports. */
let docsPublicKeyPem = '';

/** The NestJS docs' strategy (PEM `secretOrKey`), under its own name inside Tessera's app. */
@Injectable()
class SameAppDocsStrategy extends PassportStrategy(Strategy, 'docs-jwt') {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      secretOrKey: docsPublicKeyPem,
      algorithms: ['RS256'],
      issuer: 'http://tessera.bench',
      audience: 'tessera',
    });
  }

  validate(payload: Record<string, unknown>) {
    return { sub: payload.sub, scope: payload.scope, jti: payload.jti, exp: payload.exp };
  }
}

@Controller('bench')
class SameAppDocsController {
  /**
   * The docs-style guard on Tessera's own baseline: @Public() so the global guards step aside,
   * then `AuthGuard('docs-jwt')` as a route guard, same DTO and response shape.
   */
  @Post('docs-infer')
  @HttpCode(200)
  @Public()
  @UseGuards(AuthGuard('docs-jwt'))
  infer(@Body() dto: InferDto, @Req() request: { user: Record<string, unknown> }) {
    const who = request.user;
    return {
      ok: true,
      prompt: dto.prompt,
      sub: who.sub,
      scope: who.scope,
      jti: who.jti,
      kid: null,
      exp: who.exp,
    };
  }
}

@Module({
  imports: [AppModule],
  controllers: [PublicInferController, SameAppDocsController],
  providers: [SameAppDocsStrategy],
})
class BenchModule {}

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

function ask<T>(child: ChildProcess, message?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    child.once('error', onError);
    child.once('message', (reply) => {
      child.off('error', onError);
      const error = (reply as { error?: string }).error;
      if (error) reject(new Error(error));
      else resolve(reply as T);
    });
    if (message !== undefined) child.send(message as object);
  });
}

interface Row {
  target: string;
  tokens: string;
  result: LoadResult;
}

export async function main(args: string[]): Promise<void> {
  const seconds = option(args, 'seconds', 8);
  const connections = option(args, 'connections', 32);
  const rounds = option(args, 'rounds', 2);
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const policy = writeBenchPolicy(dataDir);
  // Tessera imports this signing key (PRIVATE_KEY_PATH); both docs-style guards get its PEM.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPath = join(dataDir, 'signing.pem');
  writeFileSync(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  docsPublicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  // A throw-away database on DATABASE_URL's server, or the embedded PostgreSQL.
  let dropDatabase: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const name = `tessera_bench_${randomBytes(4).toString('hex')}`;
    const adminClient = new Client({ connectionString: serverUrl });
    await adminClient.connect();
    await adminClient.query(`CREATE DATABASE "${name}"`);
    await adminClient.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    };
  }
  Object.assign(process.env, {
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    AUTH_POLICY_FILE: policy,
    JWT_ISSUER: 'http://tessera.bench',
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    JWT_ALGORITHM: 'RS256',
    PRIVATE_KEY_PATH: privateKeyPath,
    AUTH_CLIENTS_JSON: JSON.stringify({
      'bench-admin': { secret: randomBytes(24).toString('hex'), roles: ['admin'] },
    }),
  });
  if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
  else delete process.env.DATABASE_URL;

  const app = await createApp({ logger: false, module: BenchModule });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.getHttpServer().address() as { port: number }).port;
  const docs: ChildProcess[] = [];
  const loader = fork(join(__dirname, 'support', 'load-worker.js'), { stdio: 'inherit' });
  try {
    const tokenService = app.get(TokenService);
    const mint = () =>
      tokenService.mint({
        subject: 'bench-client',
        clientId: 'bench-client',
        scopes: ['model:invoke'],
        roles: ['operator'],
        expiresIn: 3600,
      }).token;
    process.stdout.write('minting 10,001 tokens…\n');
    const reused = mint();
    const pool = Array.from({ length: 10_000 }, mint);

    const signing = app.get(KeysService).signingKey();
    const publicKeyPem = docsPublicKeyPem;
    const docsApp = fork(join(__dirname, 'support', 'docs-style-app.js'), {
      env: {
        ...process.env,
        DOCS_APP_CONFIG: JSON.stringify({
          publicKeyPem,
          issuer: 'http://tessera.bench',
          audience: 'tessera',
          algorithm: signing.algorithm,
        }),
      },
      stdio: 'inherit',
    });
    docs.push(docsApp);
    const docsPort = (await ask<{ port: number }>(docsApp)).port;

    const body = JSON.stringify({ prompt: 'Hello from the benchmark' });
    const auth = (tokens: string[]) => tokens.map((t) => `Authorization: Bearer ${t}`);
    const load = (
      job: Omit<LoadJob, 'connections' | 'method' | 'path' | 'body'> & {
        port: number;
        path: string;
      },
    ) => ask<LoadResult>(loader, { method: 'POST', body, connections, ...job });
    const measure = async (job: Parameters<typeof load>[0]) => {
      // Warm-up: JIT, connections, and one full pass over the tokens (steady state).
      await load({ ...job, durationMs: 1000 });
      if (job.headers.length > 1) await load({ ...job, requests: job.headers.length });
      return load({ ...job, durationMs: seconds * 1000 });
    };

    const rows: Row[] = [];
    const record = (target: string, tokens: string, result: LoadResult) => {
      rows.push({ target, tokens, result });
      const statuses = Object.entries(result.statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      process.stdout.write(
        `  ${target.padEnd(34)} ${tokens.padEnd(26)} ${result.rps.toFixed(0).padStart(7)} req/s  ${statuses}\n`,
      );
    };
    process.stdout.write(
      `running (${seconds}s per measurement, ${connections} connections, ${cpus().length} CPUs)…\n`,
    );
    // Rounds interleave the targets so a burst of machine noise does not favour one of them;
    // each scenario reports its best round.
    const scenarios: Array<[string, string, Parameters<typeof load>[0]]> = [
      ['public twin POST /bench/infer', '-', { port, path: '/bench/infer', headers: [''] }],
      [
        'Tessera /v1/infer (full)',
        'one reused token',
        { port, path: '/v1/infer', headers: auth([reused]) },
      ],
      [
        'docs AuthGuard(jwt) + PEM',
        'one reused token',
        { port: docsPort, path: '/v1/infer', headers: auth([reused]) },
      ],
      [
        'same-app docs AuthGuard + PEM',
        'one reused token',
        { port, path: '/bench/docs-infer', headers: auth([reused]) },
      ],
      [
        'Tessera /v1/infer (full)',
        '10,000 distinct (cycled)',
        { port, path: '/v1/infer', headers: auth(pool) },
      ],
      [
        'docs AuthGuard(jwt) + PEM',
        '10,000 distinct (cycled)',
        { port: docsPort, path: '/v1/infer', headers: auth(pool) },
      ],
      [
        'same-app docs AuthGuard + PEM',
        '10,000 distinct (cycled)',
        { port, path: '/bench/docs-infer', headers: auth(pool) },
      ],
    ];
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round}/${rounds}\n`);
      for (const [target, tokens, job] of scenarios) record(target, tokens, await measure(job));
      // Never-seen tokens: each used once, so the cache cannot help (fresh tokens every round).
      const cold = Array.from({ length: 10_000 }, mint);
      record(
        'Tessera /v1/infer (full)',
        '10,000 never seen, once',
        await load({ port, path: '/v1/infer', headers: auth(cold), requests: cold.length }),
      );
      record(
        'docs AuthGuard(jwt) + PEM',
        '10,000 never seen, once',
        await load({
          port: docsPort,
          path: '/v1/infer',
          headers: auth(cold),
          requests: cold.length,
        }),
      );
      record(
        'same-app docs AuthGuard + PEM',
        '10,000 never seen, once',
        await load({ port, path: '/bench/docs-infer', headers: auth(cold), requests: cold.length }),
      );
    }

    const rps = (target: string, tokens: string) =>
      Math.max(
        ...rows
          .filter((r) => r.target.startsWith(target) && r.tokens === tokens)
          .map((r) => r.result.rps),
      );
    const publicRps = rps('public', '-');
    const table = [
      '| scenario | Tessera full pipeline | public twin | docs-style app | docs-style guard in Tessera | full / public | full / docs-style app | full / docs-style in Tessera |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...['one reused token', '10,000 distinct (cycled)', '10,000 never seen, once'].map(
        (tokens) => {
          const full = rps('Tessera', tokens);
          const docsRps = rps('docs', tokens);
          const sameApp = rps('same-app', tokens);
          return `| ${tokens} | ${full.toFixed(0)} | ${publicRps.toFixed(0)} | ${docsRps.toFixed(0)} | ${sameApp.toFixed(0)} | ${((100 * full) / publicRps).toFixed(0)}% | ${(full / docsRps).toFixed(1)}x | ${(full / sameApp).toFixed(1)}x |`;
        },
      ),
    ];
    process.stdout.write('\n' + table.join('\n') + '\n\n');
    const failed = rows.filter((r) => Object.keys(r.result.statuses).some((s) => s !== '200'));
    if (failed.length)
      process.stdout.write(
        `WARNING: non-200 answers in: ${failed.map((r) => `${r.target} ${r.tokens}`).join('; ')}\n`,
      );
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const reusedFull = rps('Tessera', 'one reused token');
    const distinctFull = rps('Tessera', '10,000 distinct (cycled)');
    process.stdout.write(
      `targets: reused >= 70% of public: ${verdict(reusedFull >= 0.7 * publicRps)}; ` +
        `distinct >= 40%: ${verdict(distinctFull >= 0.4 * publicRps)}; ` +
        `>= 3x docs-style app: reused ${verdict(reusedFull >= 3 * rps('docs', 'one reused token'))}, ` +
        `distinct ${verdict(distinctFull >= 3 * rps('docs', '10,000 distinct (cycled)'))}; ` +
        `>= 3x docs-style guard in Tessera: reused ${verdict(reusedFull >= 3 * rps('same-app', 'one reused token'))}, ` +
        `distinct ${verdict(distinctFull >= 3 * rps('same-app', '10,000 distinct (cycled)'))}; ` +
        `ceiling (public / docs-style app): ${(publicRps / rps('docs', 'one reused token')).toFixed(1)}x\n`,
    );
  } finally {
    loader.kill();
    for (const child of docs) child.kill();
    await app.close();
    await dropDatabase?.();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
