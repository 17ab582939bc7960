#!/usr/bin/env node
// `npx tessera …`: runs the compiled CLI, building it first on a fresh checkout.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  const nest = join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const build = spawnSync(process.execPath, [nest, 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0 || !existsSync(entry)) {
    process.stderr.write('tessera: could not build the CLI (run npm run build)\n');
    process.exit(1);
  }
}
require(entry);
