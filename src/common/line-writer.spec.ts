import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineWriter } from './line-writer';

describe('LineWriter', () => {
  let dir: string;
  let file: string;
  let fd: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'line-writer-'));
    file = join(dir, 'out.log');
    fd = openSync(file, 'a');
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => `{"n":${from + i},"pad":"${'x'.repeat(200)}"}\n`);

  it('writes nothing until flushAt characters wait, then everything, in order', async () => {
    const sut = new LineWriter(fd, 1000);
    sut.write('{"n":0}\n');
    expect(readFileSync(file, 'utf8')).toBe('');
    for (const line of lines(4, 1)) sut.write(line); // 876 characters wait
    expect(readFileSync(file, 'utf8')).toBe('');
    sut.write(lines(1, 5)[0]); // 1,093: written at once
    expect(readFileSync(file, 'utf8')).toBe(['{"n":0}\n', ...lines(5, 1)].join(''));
    for (const line of lines(5, 6)) sut.write(line);
    await new Promise<void>((r) => sut.flush(r));
    expect(readFileSync(file, 'utf8')).toBe(['{"n":0}\n', ...lines(10, 1)].join(''));
  });

  it('keeps every line, in order (thousands, multi-byte too)', async () => {
    const sut = new LineWriter(fd, 4096);
    const all = [...lines(3000), '{"msg":"é😀"}\n', ...lines(3000, 3000)];
    for (const line of all) sut.write(line);
    await new Promise<void>((r) => sut.flush(r));
    expect(readFileSync(file, 'utf8')).toBe(all.join(''));
  });

  it('answers a flush at once when nothing waits', async () => {
    const sut = new LineWriter(fd);
    await new Promise<void>((r) => sut.flush(r));
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('flushSync writes what waits before it returns', () => {
    const sut = new LineWriter(fd, 1 << 20);
    const all = lines(100);
    for (const line of all) sut.write(line);
    expect(readFileSync(file, 'utf8')).toBe('');
    sut.flushSync();
    expect(readFileSync(file, 'utf8')).toBe(all.join(''));
  });

  it('gives up quietly on a closed descriptor and still answers flushes', async () => {
    const closed = openSync(join(dir, 'other.log'), 'a');
    closeSync(closed);
    const sut = new LineWriter(closed, 10);
    sut.write('{"n":1}\n');
    await new Promise<void>((r) => sut.flush(r));
    sut.write('{"n":2}\n');
    expect(() => sut.flushSync()).not.toThrow();
  });

  it('does not block on a full pipe: keeps the rest and delivers all of it once read', async () => {
    // A reader that starts late: the pipe (non-blocking, as libuv opens it) fills up first.
    const out = join(dir, 'piped.log');
    const reader = spawn('sh', ['-c', `sleep 0.3; cat > ${out}`], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const pipeFd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const sut = new LineWriter(pipeFd, 4096);
    const all = lines(5000); // ~1 MB, far beyond a pipe's 64 KiB
    const started = Date.now();
    for (const line of all) sut.write(line);
    expect(Date.now() - started).toBeLessThan(250); // returned while the reader still sleeps
    await new Promise<void>((r) => sut.flush(r));
    reader.stdin!.end();
    await new Promise((r) => reader.once('exit', r));
    expect(readFileSync(out, 'utf8')).toBe(all.join(''));
  });

  it('bounds what waits for a reader that does not read: drops, counts, then says so', async () => {
    const out = join(dir, 'stalled.log');
    const reader = spawn('sh', ['-c', `sleep 0.5; cat > ${out}`], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const pipeFd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const sut = new LineWriter(pipeFd, 4096, 256 * 1024, (n) => `{"dropped":${n}}\n`);
    const all = lines(5000); // ~1 MB against a 64 KiB pipe and 256 KiB of buffer
    const kept = all.filter((line) => sut.write(line));
    expect(kept.length).toBeGreaterThan(1000); // what fits: the pipe's and the buffer's worth
    expect(kept.length).toBeLessThan(all.length);
    expect(sut.droppedTotal).toBe(all.length - kept.length);
    expect(kept).toEqual(all.slice(0, kept.length)); // the oldest are kept, in order
    await new Promise<void>((r) => sut.flush(r)); // the reader reads again
    sut.write('{"after":true}\n');
    await new Promise<void>((r) => sut.flush(r));
    reader.stdin!.end();
    await new Promise((r) => reader.once('exit', r));
    expect(readFileSync(out, 'utf8')).toBe(
      [...kept, `{"dropped":${all.length - kept.length}}\n`, '{"after":true}\n'].join(''),
    );
  });
});
