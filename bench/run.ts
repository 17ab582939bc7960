/**
 * `npm run bench -- <name>`: runs one benchmark (all of them without a name).
 * A plain name → module map; each module exports `main(args)`.
 */
const BENCHMARKS: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  pipeline: () => import('./pipeline'),
};

async function run(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const names = name ? [name] : Object.keys(BENCHMARKS);
  for (const each of names) {
    const load = BENCHMARKS[each];
    if (!load) {
      process.stderr.write(`unknown benchmark "${each}" (${Object.keys(BENCHMARKS).join(', ')})\n`);
      process.exit(2);
    }
    await (await load()).main(args);
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
