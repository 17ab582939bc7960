/**
 * `npm run bench -- <name>`: builds, then runs one benchmark (all of them without a name).
 * Benchmarks are not run by CI. A plain name → module map; each entry runs one benchmark.
 */
const BENCHMARKS: Record<string, (args: string[]) => Promise<void>> = {
  revocation: async () => (await import('./revocation')).runRevocationBenchmark(),
  pipeline: async (args) => (await import('./pipeline')).main(args),
  'login-timing': async () => (await import('./login-timing')).runLoginTiming(),
  audit: async (args) => (await import('./audit')).main(args),
  gateway: async (args) => (await import('./gateway')).main(args),
};

async function run(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const names = name ? [name] : Object.keys(BENCHMARKS);
  for (const each of names) {
    const bench = BENCHMARKS[each];
    if (!bench) {
      process.stderr.write(`unknown benchmark "${each}" (${Object.keys(BENCHMARKS).join(', ')})\n`);
      process.exit(2);
    }
    await bench(args);
  }
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
