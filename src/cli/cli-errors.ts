/** Bad command-line arguments: exit code 2 (the shared-secret reference's convention). */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A configuration problem (a missing or short secret, a mode that forbids the command): exit 1. */
export class CliConfigError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'CliConfigError';
  }
}

/** `a,b c` → `['a', 'b', 'c']`: lists accepted comma- or space-separated. */
export function listOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(/[\s,]+/).filter(Boolean);
}

/** commander's own errors (unknown option, missing value): 0 after --help or --version, else 2. */
export function commanderExitCode(code: string): number {
  return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : 2;
}
