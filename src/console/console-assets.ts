import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

/**
 * Where the built console lives: `console/dist` at the project root, found from this file both
 * when compiled (`dist/src/console/`) and when run from source (`src/console/`, tests).
 * `CONSOLE_DIST_DIR` overrides it (an image that ships the assets elsewhere).
 */
export function consoleDistDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONSOLE_DIST_DIR) return resolve(env.CONSOLE_DIST_DIR);
  const candidates = [
    join(__dirname, '..', '..', 'console', 'dist'),
    join(__dirname, '..', '..', '..', 'console', 'dist'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

/** The built files, looked up once: the set of servable paths is fixed at start. */
export class ConsoleAssets {
  readonly root: string;
  private readonly files = new Set<string>();
  readonly built: boolean;

  constructor(root = consoleDistDir()) {
    this.root = root;
    this.built = existsSync(join(root, 'index.html'));
    if (this.built) this.scan('');
  }

  /**
   * The file to send for a path under `/console/`: the file itself when the build has it, the
   * app's `index.html` for a client-side route (no extension), undefined (404) otherwise.
   * Only names from the build's own listing are ever served, so `..`, encoded separators and
   * the like cannot reach outside it.
   */
  resolve(path: string): string | undefined {
    if (!this.built) return undefined;
    const clean = path.replace(/^\/+/, '');
    if (clean === '' || clean === 'index.html') return 'index.html';
    if (this.files.has(clean)) return clean;
    const last = clean.slice(clean.lastIndexOf('/') + 1);
    if (clean.startsWith('assets/') || last.includes('.')) return undefined;
    return 'index.html';
  }

  indexHtml(): string {
    return readFileSync(join(this.root, 'index.html'), 'utf8');
  }

  private scan(prefix: string): void {
    const dir = join(this.root, prefix);
    for (const name of readdirSync(dir)) {
      const rel = prefix ? `${prefix}/${name}` : name;
      const full = join(this.root, rel);
      if (statSync(full).isDirectory()) this.scan(rel);
      else this.files.add(rel.split(sep).join('/'));
    }
  }
}
