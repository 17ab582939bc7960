/**
 * `npm run bench [-- <name>] [-- options]`: builds, then runs one benchmark. Without a name, the
 * black-box table (bench/blackbox.ts). Benchmarks are never run by CI and never assert timings.
 */
const BENCHMARKS: Record<string, (args: string[]) => Promise<void>> = {
  blackbox: async (args) => (await import('./blackbox')).runBlackbox(args),
  cluster: async (args) => (await import('./cluster')).runClusterBenchmark(args),
  revocation: async () => (await import('./revocation')).runRevocationBenchmark(),
  'login-timing': async () => (await import('./login-timing')).runLoginTiming(),
  audit: async (args) => (await import('./audit')).main(args),
  gateway: async (args) => (await import('./gateway')).main(args),
};

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const name = args[0] && !args[0].startsWith('--') ? args.shift()! : 'blackbox';
  const bench = BENCHMARKS[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}" (${Object.keys(BENCHMARKS).join(', ')})\n`);
    process.exit(2);
  }
  await bench(args);
}

run().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
