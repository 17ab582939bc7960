import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * Builds the web console when its sources are newer than `console/dist` (a no-op otherwise), so
 * a test app serves the current pages.
 */
export function ensureConsoleBuilt(): void {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-console.js')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
