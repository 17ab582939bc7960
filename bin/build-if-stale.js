#!/usr/bin/env node
// `npm start`'s prestart: compiles dist/ only when something it is built from changed since the
// last successful build, so a second start does not pay for a full TypeScript build.
// A fresh clone has no dist/ and builds; an edit, a deleted file (its folder's time changes), a
// checkout, a new lock file or an `npm install` rebuilds. `--force` always builds.
const { existsSync, readdirSync, statSync, utimesSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'src', 'main.js');
const inputs = [
  'src',
  'bench',
  'console', // the web console, built by `npm run build` too
  'scripts',
  'ormconfig.ts',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
  'package.json',
  'package-lock.json',
  join('node_modules', '.package-lock.json'), // rewritten by every npm install / npm ci
];

/** The newest modification time under `path` (folders count: deleting a file changes theirs). */
function newest(path) {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  let time = stats.mtimeMs;
  if (stats.isDirectory()) {
    for (const name of readdirSync(path)) time = Math.max(time, newest(join(path, name)));
  }
  return time;
}

function builtAt() {
  if (!existsSync(entry)) return -1;
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const force = process.argv.includes('--force');
const since = builtAt();
const changed = inputs.map((input) => newest(join(root, input))).reduce((a, b) => Math.max(a, b), 0);
if (!force && since >= 0 && changed <= since) process.exit(0);

// The stamp gets the time the build STARTED: a file saved during the build rebuilds next time.
const startedAt = new Date();
process.stderr.write(since < 0 ? 'Building dist/ (first start)…\n' : 'Sources changed: rebuilding dist/…\n');
// The project's own build script (the server and the console), as `npm run build` runs it.
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
writeFileSync(stamp, '');
utimesSync(stamp, startedAt, startedAt);
