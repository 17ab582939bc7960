#!/usr/bin/env node
// `npm start`'s prestart: compiles dist/ only when something it is built from changed since the
// last successful build, so a second start does not pay for a full TypeScript build.
// A fresh clone has no dist/ and builds; an edit, a deleted file (its folder's time changes) or a
// checkout rebuilds (modification times); so does a changed package.json or lock file, compared
// by content: `npm install` rewrites the lock files even when nothing changed ("up to date"), and
// that alone must not cost the next start a rebuild. `--force` always builds.
const { createHash } = require('node:crypto');
const {
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} = require('node:fs');
const { dirname, join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'src', 'main.js');
/** Compared by modification time. */
const sources = [
  'src',
  'bench',
  'console', // the web console, built by `npm run build` too
  'scripts',
  'ormconfig.ts',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
];
/**
 * What the build writes inside those folders, never compared: the console's build goes to
 * console/dist during `npm run build`, after the stamp's time, so counting it made the start after
 * a console rebuild rebuild everything again. Nor is the time of the folder holding it (creating
 * console/dist changes the time of console/).
 */
const outputs = new Set([join(root, 'console', 'dist')]);
const outputParents = new Set([...outputs].map((output) => dirname(output)));
/** Compared by content (what the dependencies are). */
const manifests = [
  'package.json',
  'package-lock.json',
  join('node_modules', '.package-lock.json'), // what npm install / npm ci actually installed
];

/**
 * The newest modification time under `path` (folders count: deleting a file changes theirs), the
 * build's {@link outputs} left out.
 */
function newest(path) {
  if (outputs.has(path)) return 0;
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  let time = outputParents.has(path) ? 0 : stats.mtimeMs;
  if (stats.isDirectory()) {
    for (const name of readdirSync(path)) time = Math.max(time, newest(join(path, name)));
  }
  return time;
}

/** One digest of the manifests' contents (a missing one counts as empty). */
function manifestsDigest() {
  const digest = createHash('sha256');
  for (const file of manifests) {
    let content = '';
    try {
      content = readFileSync(join(root, file));
    } catch {
      // missing
    }
    digest.update(`${file}\0${content.length}\0`).update(content);
  }
  return digest.digest('hex');
}

/** The last build: when it started, and its manifests' digest (undefined: build). */
function lastBuild() {
  if (!existsSync(entry)) return undefined;
  try {
    const { manifests: digest } = JSON.parse(readFileSync(stamp, 'utf8'));
    return { at: statSync(stamp).mtimeMs, digest };
  } catch {
    return undefined; // no stamp, or one from an earlier version (empty)
  }
}

const force = process.argv.includes('--force');
const last = lastBuild();
const digest = manifestsDigest();
const changed = sources
  .map((input) => newest(join(root, input)))
  .reduce((a, b) => Math.max(a, b), 0);
if (!force && last && changed <= last.at && last.digest === digest) process.exit(0);

// The stamp gets the time the build STARTED: a file saved during the build rebuilds next time.
const startedAt = new Date();
process.stderr.write(
  !last
    ? 'Building dist/ (first start)…\n'
    : 'Sources or dependencies changed: rebuilding dist/…\n',
);
// The project's own build script (the server and the console), as `npm run build` runs it.
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
writeFileSync(stamp, JSON.stringify({ manifests: digest }) + '\n');
utimesSync(stamp, startedAt, startedAt);
