/**
 * `npm run bench -- <name>`: builds, then runs one benchmark. Benchmarks are not run by CI.
 * Available: revocation (default).
 */
import { runRevocationBenchmark } from './revocation';

const benchmarks: Record<string, () => Promise<void>> = {
  revocation: runRevocationBenchmark,
};

async function main(): Promise<void> {
  const name = process.argv[2] ?? 'revocation';
  const bench = benchmarks[name];
  if (!bench) {
    console.error(`Unknown benchmark "${name}". Available: ${Object.keys(benchmarks).join(', ')}`);
    process.exit(2);
  }
  await bench();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
