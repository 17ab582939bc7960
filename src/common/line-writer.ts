import { writeSync } from 'node:fs';

/** A full pipe (EAGAIN): try the rest again after this long. */
const RETRY_BUSY_MS = 20;
/** What may wait for a reader that does not read (characters): then lines are dropped. */
export const MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * A buffered writer of log lines to a file descriptor (stdout): `write` appends a line to a list;
 * once `flushAt` characters wait (or on {@link flush}: the logger's timer every 250 ms, a graceful
 * shutdown), they are joined and written with one `write` system call — about one per hundred
 * request lines under load, instead of one per line. A full non-blocking pipe (EAGAIN) keeps the
 * rest and tries again 20 ms later while new lines gather behind it, so a slow reader of the log
 * never blocks the event loop; a partial write continues where it stopped. What waits is bounded
 * (`maxBuffered`, 8 MiB): a reader that stops reading (a stalled log collector) must not grow
 * the process until it is killed — as Docker's non-blocking log mode does, the lines that do not
 * fit are dropped, counted ({@link droppedTotal}), and a line saying how many follows once the
 * reader reads again.
 *
 * Why not pino's own destination (sonic-boom 4): in its string mode every `write` measures the
 * byte length of the whole buffered string (`Buffer.byteLength` of a rope up to 16 KiB), so each
 * log line cost a flattening copy of the buffer; and its asynchronous writes each woke a libuv
 * thread on the server's own core. Here a line costs an array push.
 */
export class LineWriter {
  private lines: string[] = [];
  private waiting = 0;
  /** Bytes a full pipe did not take yet: they go out before anything else. */
  private stuck: Buffer | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly flushed: Array<() => void> = [];
  private failed = false;
  /** Lines dropped since the last notice, and in all. */
  private dropped = 0;
  droppedTotal = 0;

  constructor(
    private readonly fd: number,
    private readonly flushAt = 16 * 1024,
    private readonly maxBuffered = MAX_BUFFERED,
    /** The line written once the reader reads again after `n` lines were dropped. */
    private readonly droppedNotice: (n: number) => string = (n) =>
      `{"msg":"${n} log lines dropped: the output was not read"}\n`,
  ) {}

  write(line: string): boolean {
    if (this.stuck && this.waiting + this.stuck.length >= this.maxBuffered) {
      this.dropped += 1;
      this.droppedTotal += 1;
      return false;
    }
    this.lines.push(line);
    this.waiting += line.length;
    if (this.waiting >= this.flushAt) this.writeOut();
    return true;
  }

  /** Writes out what is waiting; `done` is called once it is written (or cannot be). */
  flush(done?: () => void): void {
    if (done) this.flushed.push(done);
    this.writeOut();
  }

  /**
   * Writes everything waiting before it returns (at exit). A pipe that stays full is given a
   * second, then what it did not take is dropped rather than the exit hung.
   */
  flushSync(): void {
    const deadline = Date.now() + 1000;
    while ((this.stuck || this.lines.length) && !this.failed && Date.now() < deadline) {
      this.writeOut(true);
    }
  }

  private writeOut(spin = false): void {
    if (this.retry && !spin) return; // the retry timer writes, in order
    if (!this.stuck && this.lines.length) this.stuck = Buffer.from(this.take());
    let buffer = this.stuck;
    let offset = 0;
    while (buffer && !this.failed) {
      try {
        offset += writeSync(this.fd, buffer, offset, buffer.length - offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.failed = true; // stdout is gone (EPIPE, EBADF): nothing more can be written there
        this.lines = [];
        this.waiting = 0;
        this.dropped = 0;
      }
      if (offset >= buffer.length) {
        offset = 0;
        buffer = this.lines.length ? Buffer.from(this.take()) : undefined;
      }
    }
    this.stuck = buffer && !this.failed ? buffer.subarray(offset) : undefined;
    if (this.stuck && !spin) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.writeOut();
      }, RETRY_BUSY_MS).unref();
      return;
    }
    if (this.stuck) return;
    if (this.dropped > 0 && !this.failed) {
      // The reader reads again: say what it missed (written with the next lines).
      const notice = this.droppedNotice(this.dropped);
      this.dropped = 0;
      this.lines.push(notice);
      this.waiting += notice.length;
    }
    for (const done of this.flushed.splice(0)) done();
  }

  private take(): string {
    const text = this.lines.join('');
    this.lines = [];
    this.waiting = 0;
    return text;
  }
}
