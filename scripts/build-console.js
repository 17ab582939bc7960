#!/usr/bin/env node
/*
 * Builds the web console (console/ → console/dist) with Vite, unless the build is newer than
 * every source file. `--if-possible` (npm's `prepare`, run by `npm install`/`npm ci`) skips
 * quietly where the sources or Vite are absent: the Docker runtime stage installs production
 * dependencies only, and copies the assets from the build stage.
 */
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const consoleDir = join(root, 'console');
const ifPossible = process.argv.includes('--if-possible');
const force = process.argv.includes('--force');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const name of readdirSync(path)) latest = Math.max(latest, newest(join(path, name)));
  return latest;
}

if (!existsSync(join(consoleDir, 'src'))) {
  if (ifPossible) process.exit(0);
  console.error('build-console: console/src is missing');
  process.exit(1);
}
let viteBin;
try {
  // vite's package exports hide its bin; find it from its package.json.
  const manifest = require.resolve('vite/package.json', { paths: [root] });
  viteBin = join(manifest, '..', require(manifest).bin.vite);
} catch {
  if (ifPossible) {
    console.log('build-console: vite is not installed (production install); console not built');
    process.exit(0);
  }
  console.error('build-console: vite is not installed: run npm install');
  process.exit(1);
}

const built = join(consoleDir, 'dist', 'index.html');
const sources = ['src', 'public', 'index.html', 'vite.config.ts'].map((p) => join(consoleDir, p));
// What the console imports from the server's sources (the permission list of the Roles page).
sources.push(join(consoleDir, '..', 'src', 'rbac', 'known-permissions.ts'));
if (!force && existsSync(built)) {
  const source = Math.max(...sources.filter(existsSync).map(newest));
  if (statSync(built).mtimeMs >= source) {
    console.log('build-console: console/dist is up to date');
    process.exit(0);
  }
}
const result = spawnSync(
  process.execPath,
  [viteBin, 'build', '--config', join(consoleDir, 'vite.config.ts'), '--logLevel', 'warn'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
