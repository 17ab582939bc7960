/**
 * `npm run bench` (no name): everything black-box, in one run, one table.
 *
 * Separate processes: Tessera as users run it (`node dist/src/main.js`, default settings, request
 * logs on, written to a file), a bare Nest 11 + Fastify hello route and the NestJS docs' guard
 * (bench/peers/nest-docs-guard), node-oidc-provider issuing JWT access tokens
 * (bench/peers/oidc-provider, the devDependency), and one core's signing rate
 * (bench/peers/sign-rate). Every server is pinned to CPU 0 and wrk to CPU 1 when there are two
 * CPUs; each scenario keeps its best round.
 *
 *   npm run bench [-- --seconds 8 --rounds 2 --connections 32]
 *
 * Needs wrk (apt-get install wrk) and PostgreSQL: DATABASE_URL names a server where a scratch
 * database is created and dropped for each Tessera; without it each Tessera starts its embedded
 * PostgreSQL in a temporary DATA_DIR, removed afterwards.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { writeBenchPolicy } from './support/bench-policy';
import {
  fetchTokens,
  freePort,
  launch,
  LUA,
  machine,
  pinning,
  repin,
  requireWrk,
  scratchDatabase,
  session,
  settle,
  waitUp,
  wrk,
  WrkResult,
} from './support/harness';

export interface Options {
  seconds: number;
  rounds: number;
  connections: number;
}

export function options(args: string[]): Options {
  const value = (name: string, fallback: number) => {
    const index = args.indexOf(`--${name}`);
    const parsed = index >= 0 ? Number(args[index + 1]) : fallback;
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} needs a number > 0`);
    return parsed;
  };
  return {
    seconds: value('seconds', 8),
    rounds: value('rounds', 2),
    connections: value('connections', 32),
  };
}

const CLIENT_SECRET = randomBytes(24).toString('hex');
const TOKEN_FORM = `grant_type=client_credentials&client_id=bench&client_secret=${CLIENT_SECRET}&scope=model:invoke`;
const POOL = 10_000;

export interface Tessera {
  base: string;
  logFile: string;
  process: ChildProcess;
}

/**
 * Starts `node dist/src/main.js` with default settings plus what any deployment sets: address,
 * issuer, algorithm, a database, a policy whose limits never refuse (every request is still
 * counted) and one client.
 */
export async function startTessera(
  work: string,
  label: string,
  algorithm: 'RS256' | 'ES256',
  cleanups: Array<() => Promise<void>>,
  extra: NodeJS.ProcessEnv = {},
  pin = true,
): Promise<Tessera> {
  const port = await freePort();
  const dataDir = join(work, `data-${label}`);
  const env: NodeJS.ProcessEnv = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_ISSUER: `http://127.0.0.1:${port}`,
    JWT_ALGORITHM: algorithm,
    AUTH_POLICY_FILE: writeBenchPolicy(work),
    AUTH_CLIENTS_JSON: JSON.stringify({
      bench: { secret: CLIENT_SECRET, roles: ['operator'], scopes: ['model:invoke'] },
    }),
    ...extra,
  };
  if (process.env.DATABASE_URL) {
    const database = await scratchDatabase(process.env.DATABASE_URL, label);
    cleanups.push(database.drop);
    env.DATABASE_URL = database.url;
  } else {
    env.DATABASE_URL = '';
  }
  const logFile = join(work, `tessera-${label}.log`);
  const child = launch(['node', 'dist/src/main.js'], { env, logFile, pin });
  const base = `http://127.0.0.1:${port}`;
  await waitUp(`${base}/health/ready`, child, logFile);
  // In cluster mode the first worker answers before the others have started: wait for them all.
  const workers = Number(extra.WORKERS ?? 1);
  if (workers > 1) {
    const deadline = Date.now() + 120_000;
    while (!readFileSync(logFile, 'utf8').includes(`with ${workers} workers`)) {
      if (Date.now() > deadline) throw new Error(`not all ${workers} workers started: ${logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { base, logFile, process: child };
}

/**
 * Tokens from Tessera's own token endpoint, written one a line to `file`. The server may use
 * every CPU meanwhile (minting is preparation, not measurement), then it is pinned again.
 */
export async function tesseraTokens(tessera: Tessera, count: number, file: string) {
  const pinned = tessera.process.spawnargs[0] === 'taskset';
  if (pinned) repin(tessera.process, `0-${cpus().length - 1}`);
  try {
    const tokens = await fetchTokens(`${tessera.base}/oauth/token`, TOKEN_FORM, count);
    writeFileSync(file, tokens.join('\n') + '\n');
    return tokens;
  } finally {
    if (pinned) repin(tessera.process, '0');
  }
}

/** One POST /v1/infer per token, 32 at a time (preparation, not measured). */
async function pass(url: string, tokens: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++];
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"prompt":"hello"}',
      });
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** The PEM of the JWKS key that signed `token`. */
async function publicKeyPem(tessera: Tessera, token: string): Promise<string> {
  const kid = (
    JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }
  ).kid;
  const jwks = (await (await fetch(`${tessera.base}/.well-known/jwks.json`)).json()) as {
    keys: Array<{ kid: string }>;
  };
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`kid ${kid} not in Tessera's JWKS`);
  return createPublicKey({ key: jwk as never, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

interface Scenario {
  key: string;
  label: string;
  run(round: number): Promise<WrkResult>;
  /** Not warmed up: never-seen tokens are fresh each round; signing needs no server. */
  cold?: boolean;
}

export async function runBlackbox(args: string[]): Promise<void> {
  const opts = options(args);
  requireWrk();
  await session('tessera-bench-', async (work, cleanups) => {
    const started = new Date();
    process.stdout.write(
      `black-box benchmark: ${machine()}; ${
        pinning.usable
          ? 'servers on CPU 0, wrk on CPU 1'
          : 'NOT pinned (needs 2 CPUs and taskset): figures include the load generator'
      }; wrk -t1 -c${opts.connections} -d${opts.seconds}s, best of ${opts.rounds} rounds\n` +
        `work directory (server logs): ${work}\n`,
    );
    process.stdout.write(
      'starting Tessera (RS256, ES256), the Nest peer, oidc-provider (RS256, ES256)…\n',
    );
    const [rs, es] = await Promise.all([
      startTessera(work, 'rs256', 'RS256', cleanups),
      startTessera(work, 'es256', 'ES256', cleanups),
    ]);
    process.stdout.write(`minting ${POOL + 1} tokens for the guarded scenarios…\n`);
    const distinctFile = join(work, 'distinct.tokens');
    const reusedFile = join(work, 'reused.tokens');
    const [reused] = await tesseraTokens(rs, 1, reusedFile);
    const distinctTokens = await tesseraTokens(rs, POOL, distinctFile);
    const pemFile = join(work, 'tessera-public.pem');
    writeFileSync(pemFile, await publicKeyPem(rs, reused));

    const docsPort = await freePort();
    const docsLog = join(work, 'nest-docs-guard.log');
    const docs = launch(['node', 'dist/bench/peers/nest-docs-guard/app.js'], {
      env: { PORT: String(docsPort), PUBLIC_KEY_FILE: pemFile },
      logFile: docsLog,
    });
    const op: Record<string, string> = {};
    for (const alg of ['RS256', 'ES256']) {
      const port = await freePort();
      const log = join(work, `oidc-provider-${alg}.log`);
      const child = launch(['node', 'bench/peers/oidc-provider/server.mjs'], {
        env: { PORT: String(port), ALG: alg, CLIENT_SECRET },
        logFile: log,
      });
      op[alg] = `http://127.0.0.1:${port}`;
      await waitUp(`${op[alg]}/.well-known/openid-configuration`, child, log);
    }
    const docsBase = `http://127.0.0.1:${docsPort}`;
    await waitUp(`${docsBase}/open`, docs, docsLog);

    let roundSeconds = opts.seconds;
    const load = (
      url: string,
      script?: string,
      env: NodeJS.ProcessEnv = {},
      seconds = roundSeconds,
    ) => wrk({ url, seconds, connections: opts.connections, script, env });
    const tokens = (file: string) => ({ TOKENS: file });
    const tokenScript = join(LUA, 'tokens.lua');
    const infer = (base: string, path: string, file: string, extra: NodeJS.ProcessEnv = {}) =>
      load(`${base}${path}`, tokenScript, { ...tokens(file), METHOD: 'POST', ...extra });
    const get = (base: string, path: string, file: string) =>
      load(`${base}${path}`, tokenScript, { ...tokens(file), METHOD: 'GET' });
    const issue = (url: string) => load(url, join(LUA, 'post-token.lua'), { BODY: TOKEN_FORM });

    // Never-seen tokens: a fresh file each round, used once by Tessera and by the docs guard.
    let neverSeen = '';
    let distinctRate = 0;
    const onceSeconds = () =>
      Math.max(3, Math.min(60, Math.ceil((POOL / Math.max(distinctRate, 1)) * 1.5) + 1));
    const scenarios: Scenario[] = [
      {
        key: 'bare',
        label: 'bare Nest 11 + Fastify, GET /open → {ok:true}',
        run: () => load(`${docsBase}/open`),
      },
      {
        key: 'docs-reused',
        label: "NestJS docs guard (AuthGuard('jwt'), passport-jwt, PEM), one reused token",
        run: () => get(docsBase, '/infer', reusedFile),
      },
      {
        key: 'reused',
        label: 'Tessera POST /v1/infer, one reused token',
        run: () => infer(rs.base, '/v1/infer', reusedFile),
      },
      {
        key: 'models',
        label: 'Tessera GET /v1/models, one reused token',
        run: () => get(rs.base, '/v1/models', reusedFile),
      },
      {
        key: 'distinct',
        label: 'Tessera POST /v1/infer, 10,000 distinct tokens (cycled)',
        run: async () => {
          // Steady state: one full pass first, so the verified-token cache (10,000 entries,
          // oldest forgotten first) holds exactly this set; the other scenarios' tokens (the
          // never-seen ones above all) have pushed them out since the last round.
          await pass(`${rs.base}/v1/infer`, distinctTokens);
          await settle(rs.process);
          const result = await infer(rs.base, '/v1/infer', distinctFile);
          distinctRate = Math.max(distinctRate, result.rps);
          return result;
        },
      },
      {
        key: 'docs-distinct',
        label: 'NestJS docs guard, 10,000 distinct tokens (cycled)',
        run: () => get(docsBase, '/infer', distinctFile),
      },
      {
        key: 'never-seen',
        cold: true,
        label: 'Tessera POST /v1/infer, 10,000 never-seen tokens (each once)',
        run: async (round) => {
          neverSeen = join(work, `never-seen-${round}.tokens`);
          await tesseraTokens(rs, POOL, neverSeen);
          await settle(rs.process); // minting's audit events are written before the timing
          return load(
            `${rs.base}/v1/infer`,
            tokenScript,
            { TOKENS: neverSeen, ONCE: '1' },
            onceSeconds(),
          );
        },
      },
      {
        key: 'docs-never-seen',
        cold: true,
        label: 'NestJS docs guard, the same never-seen tokens (each once)',
        run: () =>
          load(
            `${docsBase}/infer`,
            tokenScript,
            { TOKENS: neverSeen, ONCE: '1', METHOD: 'GET' },
            onceSeconds(),
          ),
      },
      {
        key: 'op-rs',
        label: 'node-oidc-provider client_credentials, JWT, RS256',
        run: () => issue(`${op.RS256}/token`),
      },
      {
        key: 'issue-rs',
        label: 'Tessera /oauth/token client_credentials, RS256',
        run: () => issue(`${rs.base}/oauth/token`),
      },
      {
        key: 'op-es',
        label: 'node-oidc-provider client_credentials, JWT, ES256',
        run: () => issue(`${op.ES256}/token`),
      },
      {
        key: 'issue-es',
        label: 'Tessera /oauth/token client_credentials, ES256',
        run: () => issue(`${es.base}/oauth/token`),
      },
      {
        key: 'sign-rs',
        cold: true,
        label: 'one core signing RSA-2048 (RS256), node:crypto',
        run: () => signRate('RS256', work),
      },
      {
        key: 'sign-es',
        cold: true,
        label: 'one core signing P-256 (ES256), node:crypto',
        run: () => signRate('ES256', work),
      },
    ];

    // One short unrecorded pass first: JIT, connections, and the distinct tokens seen once.
    process.stdout.write('warm-up (3 s per server scenario, not recorded)\n');
    roundSeconds = 3;
    for (const scenario of scenarios) if (!scenario.cold) await scenario.run(0);
    roundSeconds = opts.seconds;
    distinctRate = 0;

    const best = new Map<string, WrkResult>();
    for (let round = 1; round <= opts.rounds; round++) {
      process.stdout.write(`round ${round}/${opts.rounds}\n`);
      for (const scenario of scenarios) {
        const result = await scenario.run(round);
        process.stdout.write(
          `  ${scenario.key.padEnd(16)} ${result.rps.toFixed(0).padStart(8)}/s` +
            (result.non2xx || result.errors
              ? `  non-2xx ${result.non2xx}, socket errors ${result.errors}`
              : '') +
            '\n',
        );
        const previous = best.get(scenario.key);
        if (!previous || result.rps > previous.rps) best.set(scenario.key, result);
      }
    }
    process.stdout.write(
      '\n' +
        report(
          scenarios.map((s) => s.label),
          scenarios.map((s) => s.key),
          best,
          opts,
          started,
        ),
    );
  });
}

/** One core's signing rate, pinned like the servers, in the same run. */
async function signRate(alg: 'RS256' | 'ES256', work: string): Promise<WrkResult> {
  const logFile = join(work, `sign-rate-${alg}.log`);
  const child = launch(['node', 'dist/bench/peers/sign-rate.js', alg, '3'], { logFile });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  const perSecond = (JSON.parse(out.trim()) as { perSecond: number }).perSecond;
  return { rps: perSecond, requests: 0, non2xx: 0, errors: 0 };
}

function report(
  labels: string[],
  keys: string[],
  best: Map<string, WrkResult>,
  opts: Options,
  started: Date,
): string {
  const r = (key: string) => best.get(key)?.rps ?? 0;
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const ratio: Record<string, string> = {
    bare: 'ceiling',
    reused: `${pct(r('reused'), r('bare'))} of bare, ${x(r('reused'), r('docs-reused'))} docs guard`,
    models: `${pct(r('models'), r('bare'))} of bare`,
    distinct: `${pct(r('distinct'), r('bare'))} of bare, ${x(r('distinct'), r('docs-distinct'))} docs guard`,
    'never-seen': `${pct(r('never-seen'), r('bare'))} of bare, ${x(r('never-seen'), r('docs-never-seen'))} docs guard`,
    'issue-rs': `${x(r('issue-rs'), r('op-rs'))} oidc-provider, ${pct(r('issue-rs'), r('sign-rs'))} of one core's RSA-2048 signing`,
    'issue-es': `${x(r('issue-es'), r('op-es'))} oidc-provider, ${pct(r('issue-es'), r('sign-es'))} of one core's P-256 signing`,
  };
  const unit = (key: string) =>
    key.startsWith('sign')
      ? 'signatures/s'
      : key.includes('issue') || key.startsWith('op')
        ? 'tokens/s'
        : 'req/s';
  const rows = keys.map((key, i) => {
    const result = best.get(key);
    const flag =
      result && (result.non2xx || result.errors)
        ? ` (non-2xx ${result.non2xx}, errors ${result.errors})`
        : '';
    return `| ${labels[i]} | ${r(key).toFixed(0)} ${unit(key)}${flag} | ${ratio[key] ?? ''} |`;
  });
  const verdict = (ok: boolean) => (ok ? 'met' : '**NOT met**');
  const targets = [
    `guarded, reused token ≥ 40% of bare: ${pct(r('reused'), r('bare'))} — ${verdict(r('reused') >= 0.4 * r('bare'))}`,
    `guarded, reused token ≥ 3x docs guard: ${x(r('reused'), r('docs-reused'))} — ${verdict(r('reused') >= 3 * r('docs-reused'))}`,
    `guarded, 10,000 never-seen ≥ 2x docs guard: ${x(r('never-seen'), r('docs-never-seen'))} — ${verdict(r('never-seen') >= 2 * r('docs-never-seen'))}`,
    `issuance ES256 ≥ 3x oidc-provider: ${x(r('issue-es'), r('op-es'))} — ${verdict(r('issue-es') >= 3 * r('op-es'))}`,
    `issuance RS256 ≥ 1.2x oidc-provider: ${x(r('issue-rs'), r('op-rs'))} — ${verdict(r('issue-rs') >= 1.2 * r('op-rs'))}`,
    `issuance RS256 ≥ 90% of one core's RSA-2048 signing: ${pct(r('issue-rs'), r('sign-rs'))} — ${verdict(r('issue-rs') >= 0.9 * r('sign-rs'))}`,
  ];
  return [
    `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine()}`,
    `npm run bench -- --seconds ${opts.seconds} --rounds ${opts.rounds} --connections ${opts.connections}` +
      ` (wrk -t1 -c${opts.connections}, ${pinning.usable ? 'servers taskset -c 0, wrk taskset -c 1' : 'unpinned'}, best of ${opts.rounds})`,
    '',
    '| scenario | rate | ratio |',
    '|---|---:|---|',
    ...rows,
    '',
    'targets:',
    ...targets.map((t) => `- ${t}`),
    '',
  ].join('\n');
}
