import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm start`'s prestart (bin/build-if-stale.js) on a project of its own: a build script that
 * only counts its runs, so the test is about when the script decides to build.
 */
describe('npm start rebuilds dist/ only when something it is built from changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-stale-'));
  const builds = () => readFileSync(join(dir, 'builds.log'), 'utf8').split('\n').length - 1;
  const prestart = () => {
    const run = spawnSync(process.execPath, [join(dir, 'bin', 'build-if-stale.js')], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    return run.stderr;
  };
  const later = (file: string) => {
    const t = new Date(Date.now() + 5_000); // after the stamp, whatever the clock's resolution
    utimesSync(join(dir, file), t, t);
  };

  beforeAll(() => {
    mkdirSync(join(dir, 'bin'));
    copyFileSync(
      join(__dirname, '..', 'bin', 'build-if-stale.js'),
      join(dir, 'bin', 'build-if-stale.js'),
    );
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'main.ts'), 'export {};\n');
    mkdirSync(join(dir, 'console', 'src'), { recursive: true });
    writeFileSync(join(dir, 'console', 'src', 'main.tsx'), 'export {};\n');
    mkdirSync(join(dir, 'node_modules'));
    const build =
      "const fs=require('fs');fs.mkdirSync('dist/src',{recursive:true});fs.writeFileSync('dist/src/main.js','');fs.mkdirSync('console/dist',{recursive:true});fs.writeFileSync('console/dist/index.html','');fs.appendFileSync('builds.log','x\\n')";
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'stale', scripts: { build: `node -e "${build}"` } }, null, 2),
    );
    writeFileSync(join(dir, 'package-lock.json'), '{"lockfileVersion":3}\n');
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), '{"lockfileVersion":3}\n');
    writeFileSync(join(dir, 'builds.log'), '');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds a fresh clone, then not again until a source or a dependency changes', () => {
    expect(prestart()).toContain('first start');
    expect(builds()).toBe(1);
    prestart();
    expect(builds()).toBe(1);

    // `npm install` with nothing to do rewrites the lock files, same content: no rebuild.
    for (const file of ['package-lock.json', join('node_modules', '.package-lock.json')]) {
      writeFileSync(join(dir, file), readFileSync(join(dir, file)));
      later(file);
    }
    prestart();
    expect(builds()).toBe(1);

    // A dependency changed (new content): rebuild, once.
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), '{"lockfileVersion":3,"x":1}\n');
    expect(prestart()).toContain('rebuilding');
    expect(builds()).toBe(2);
    prestart();
    expect(builds()).toBe(2);

    // A source edited: rebuild.
    later(join('src', 'main.ts'));
    prestart();
    expect(builds()).toBe(3);
  });

  it("rebuilds once after a console edit: the console's build output is not a source", () => {
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'src', 'main.ts'), past, past); // the test before's edit "in the future"
    prestart();
    const before = builds();
    // Edited now, after the last build started (not in the future, which would stay newer than
    // the next stamp too).
    const now = new Date();
    utimesSync(join(dir, 'console', 'src', 'main.tsx'), now, now);
    expect(prestart()).toContain('rebuilding');
    expect(builds()).toBe(before + 1);
    // The build wrote console/dist after the stamp's time (the stamp is when the build started):
    // the next start must not take its own output for an edit (it rebuilt everything, ~9 s).
    later(join('console', 'dist', 'index.html'));
    later(join('console', 'dist'));
    expect(prestart()).toBe('');
    expect(builds()).toBe(before + 1);
  });
});
