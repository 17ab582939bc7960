/**
 * The black-box benchmarks' tools: separate server processes (pinned to a core when there are
 * two), wrk as the load generator, scratch databases, and clean-up on every exit path.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/database/embedded-postgres';

export { freePort };

/** The project's root (the benchmarks run from dist/bench/). */
export const ROOT = join(__dirname, '..', '..', '..');
export const LUA = join(ROOT, 'bench', 'lua');

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Stops with a line saying how to install wrk when it is missing. */
export function requireWrk(): void {
  if (has('wrk')) return;
  throw new Error(
    'wrk is not installed. On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk ' +
      '(macOS: brew install wrk), then run the benchmark again.',
  );
}

/** Server on CPU 0, load generator on CPU 1 — when there are two CPUs and taskset exists. */
export const pinning = (() => {
  const usable = cpus().length >= 2 && has('taskset');
  return {
    usable,
    server: usable ? ['taskset', '-c', '0'] : [],
    load: usable ? ['taskset', '-c', '1'] : [],
  };
})();

/**
 * Moves a running server (all its threads) to `cpus` ("0", "0-1"): servers are unpinned while
 * the benchmark mints its tokens through them, and pinned again before anything is measured.
 */
export function repin(child: ChildProcess, cpus: string): void {
  if (!pinning.usable || !child.pid) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(child.pid)], { stdio: 'ignore' });
}

export function machine(): string {
  const model = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('model name'))
    ?.split(':')[1]
    ?.trim();
  return `${cpus().length} CPUs (nproc), ${model ?? cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
}

const children = new Set<ChildProcess>();

/** Starts `command` as a child (its output appended to `logFile`), remembered for {@link stopAll}. */
export function launch(
  command: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; pin?: boolean },
): ChildProcess {
  const argv = [...(options.pin === false ? [] : pinning.server), ...command];
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Runs a benchmark in a fresh work directory; on return, on error and on Ctrl-C alike every
 * server is stopped, every clean-up (scratch databases) run and the directory removed
 * (kept with BENCH_KEEP_WORK=1).
 */
export async function session(
  prefix: string,
  body: (work: string, cleanups: Array<() => Promise<void>>) => Promise<void>,
): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  // As root, an embedded PostgreSQL under it runs as the postgres user, who must pass through.
  if (process.getuid?.() === 0) chmodSync(work, 0o711);
  const cleanups: Array<() => Promise<void>> = [];
  const finish = async () => {
    await stopAll();
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    if (!process.env.BENCH_KEEP_WORK) rmSync(work, { recursive: true, force: true });
  };
  const interrupted = () => void finish().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await body(work, cleanups);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await finish();
  }
}

/** SIGTERM to every child still running, SIGKILL after 10 s. */
export async function stopAll(): Promise<void> {
  const running = [...children];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** The pids `pgrep` finds with `args` (none: an empty list). */
export function pgrep(...args: string[]): number[] {
  try {
    return execFileSync('pgrep', args, { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** CPU seconds `pid` has used so far (Linux /proc; 0 elsewhere). */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/**
 * Waits until `child` is idle (under 5% of a core over 300 ms; at most 20 s): what a preparation
 * step leaves behind — the audit events of tokens just minted, their garbage — is not measured
 * as part of the next scenario.
 */
export async function settle(child: ChildProcess): Promise<void> {
  if (!child.pid) return;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const before = cpuSeconds(child.pid);
    await new Promise((r) => setTimeout(r, 300));
    if (cpuSeconds(child.pid) - before <= 0.015) return;
  }
}

/** Polls `url` until it answers 2xx; fails naming the log to read. */
export async function waitUp(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      // The work directory (and the log) is removed when the benchmark ends: quote the log's end.
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new Error(
        `a server exited (code ${child.exitCode}) before answering ${url} (BENCH_KEEP_WORK=1 keeps ${logFile}):\n${tail}`,
      );
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within 120 s: see ${logFile}`);
}

/** A database created on DATABASE_URL's server for one run; `drop()` removes it. */
export async function scratchDatabase(
  serverUrl: string,
  label: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tessera_bench_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

export interface WrkResult {
  /** Requests per second (for a never-seen run: over the timed window of the script). */
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** Runs wrk (pinned to the load CPU) and parses its summary. */
export function wrk(options: {
  url: string;
  seconds: number;
  connections: number;
  script?: string;
  env?: NodeJS.ProcessEnv;
  pin?: boolean;
}): Promise<WrkResult> {
  const argv = [
    ...(options.pin === false ? [] : pinning.load),
    'wrk',
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    ...(options.script ? ['-s', options.script] : []),
    options.url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk failed (${code}): ${out}`));
      const number = (pattern: RegExp) => Number(pattern.exec(out)?.[1] ?? 0);
      const once = /^ONCE (\d+) ([\d.]+) (\d+)$/m.exec(out);
      const socketErrors =
        /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = socketErrors
        ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0)
        : 0;
      if (once) {
        const counted = Number(once[1]);
        const seconds = Number(once[2]);
        return resolve({
          rps: seconds > 0 ? counted / seconds : 0,
          requests: counted,
          non2xx: Number(once[3]),
          errors,
        });
      }
      resolve({
        rps: number(/Requests\/sec:\s+([\d.]+)/),
        requests: number(/(\d+) requests in/),
        non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
        errors,
      });
    });
  });
}

/** Gets many tokens from a token endpoint, `concurrency` requests at a time. */
export async function fetchTokens(
  url: string,
  form: string,
  count: number,
  concurrency = 16,
): Promise<string[]> {
  const tokens: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      const body = (await response.json()) as { access_token?: string };
      if (!response.ok || !body.access_token)
        throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
      tokens.push(body.access_token);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tokens;
}
