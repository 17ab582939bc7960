export async function runClusterBenchmark(args: string[]): Promise<void> {
  void args;
  throw new Error('not yet');
}
