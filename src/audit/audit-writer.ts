import { readFileSync, unlinkSync } from 'node:fs';
import {
  claimSpillFile,
  newSpillId,
  spillFilesToReplay,
  writeSpillFile,
} from '../common/spill-files';
import { EventFields, eventFields } from './audit-chain';
import type { ChainAppender } from './chain-appender';

/** An event ready to store: plain JSON (it may be spilled to a file and read back). */
export type PreparedEvent = Omit<EventFields, 'at' | 'details'> & {
  /** ISO 8601, as `Date.toISOString` writes it. */
  at: string;
  details: Record<string, unknown>;
};

export interface WriterOptions {
  /** Events held in memory before the oldest are spilled to `spillDir`. */
  bufferMax: number;
  spillDir: string;
  /** Rows per INSERT statement. */
  batchMax?: number;
  /**
   * Under load — once a batch held {@link PACED_FROM} events or more — at least this long between
   * the starts of two statements (events arriving meanwhile join the next batch). Below that, an
   * event is written as soon as the statement before has answered. Default 0.
   */
  intervalMs?: number;
}

export interface WriterMetrics {
  written(n: number): void;
  spilled(n: number): void;
  dropped(n: number): void;
}

interface Logger {
  warn(message: string): void;
  error(message: string): void;
  log(message: string): void;
}

interface Pending {
  /** The event's {@link eventFields} text: all it holds while it waits (one flat string). */
  fields: string;
  done?: () => void;
}

const MAX_RETRY_MS = 5000;
/**
 * The batch size from which statements are paced (`intervalMs`): batches this large mean events
 * arrive faster than statements answer, so waiting gathers more of them; smaller ones mean a
 * quiet trail, whose events (a test reading them back, an operator watching) are not held back.
 */
export const PACED_FROM = 10;
const SPILL_SUFFIX = '.ndjson';

/**
 * Writes audit events off the request path, a batch per statement: the events numbered and
 * hashed after the chain head this writer last saw, inserted in the same statement that moves
 * the head — only if the head is still there (compare-and-set), so replicas writing at once form
 * one chain without a transaction held open across round trips ({@link AuditWriter.append}).
 *
 * Group commit: the first event starts a write at once (setImmediate); events arriving while
 * it runs are written together next. The buffer is bounded (`bufferMax`): while PostgreSQL is
 * down, writes are retried with back-off, and when the buffer is full its oldest half is
 * spilled to a file under DATA_DIR/audit-spill, replayed (atomically, file by file) once the
 * database answers again, and at the next start. An event is dropped only if it cannot be
 * spilled either (disk full, directory not writable) or PostgreSQL refuses its data; each drop
 * is counted (`tessera_audit_events_dropped_total`) and logged.
 */
export class AuditWriter {
  private queue: Pending[] = [];
  private inflight = 0;
  private running?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private retryMs = 0;
  private spillsPending = true; // look once at start
  private readonly batchMax: number;
  private readonly intervalMs: number;
  /** When the last batch's statement was sent (Date.now()), and how many events it held. */
  private lastWriteAt = 0;
  private lastBatchSize = 0;
  /** A flush is waiting: write without pacing. */
  private flushing = false;

  constructor(
    private readonly appender: Pick<ChainAppender, 'append' | 'insertOnce'>,
    private readonly options: WriterOptions,
    private readonly metrics: WriterMetrics,
    private readonly logger: Logger,
  ) {
    this.batchMax = options.batchMax ?? 2000;
    this.intervalMs = options.intervalMs ?? 0;
  }

  /** Events waiting or being written. */
  get depth(): number {
    return this.queue.length + this.inflight;
  }

  /**
   * Queues an event. It is serialized at once ({@link eventFields}), so what waits for the next
   * batch is one string, not an object graph for the garbage collector to copy meanwhile.
   */
  enqueue(event: PreparedEvent, done?: () => void): void {
    this.queue.push({ fields: eventFields(event), done });
    if (this.queue.length > this.options.bufferMax) this.spillOldest();
    if (!this.running && !this.retryTimer) this.start();
  }

  /**
   * Writes everything buffered (and pending spill files), waiting at most `timeoutMs`. With
   * `spillLeftovers` (graceful shutdown), what is still unwritten then — PostgreSQL down or too
   * slow — is spilled to a file for the next start; otherwise it stays buffered.
   */
  async flush(timeoutMs = 5000, spillLeftovers = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.flushing = true;
    try {
      await this.writeAll(deadline);
    } finally {
      this.flushing = false;
    }
    if (!spillLeftovers) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.queue.length > 0)
      this.spill(this.queue.splice(0), 'PostgreSQL unavailable at shutdown', true);
  }

  /** Writes until the buffer is empty, the database refuses, or `deadline` passes. */
  private async writeAll(deadline: number): Promise<void> {
    while ((this.queue.length > 0 || this.running) && Date.now() < deadline) {
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      if (!this.running) this.start();
      const ran = this.running;
      await Promise.race([ran, sleep(Math.max(0, deadline - Date.now()))]);
      if (this.retryTimer) break; // the database refused: stop trying (and spill, at shutdown)
    }
  }

  /** Looks for spill files to replay (at start, and after they were written). */
  notePendingSpills(): void {
    this.spillsPending = true;
    if (!this.running && !this.retryTimer) this.start();
  }

  private start(): void {
    this.running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      const replayed = this.spillsPending ? await this.replaySpills() : 0;
      const written = await this.writeBatches();
      // Resumed only when the database took something (an empty turn proves nothing).
      if (replayed + written > 0) {
        if (this.retryMs > 0) this.logger.log('Audit trail writes resumed');
        this.retryMs = 0;
      }
    } catch (error) {
      // PostgreSQL unavailable: the batches are back in the queue; retry with back-off.
      if (this.retryMs === 0)
        this.logger.warn(
          `Audit events cannot be written (${(error as Error).message}); buffering ${this.queue.length}, retrying`,
        );
      this.retryMs = Math.min(MAX_RETRY_MS, Math.max(250, this.retryMs * 2));
      this.spillIfAwaited();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.running) this.start();
      }, this.retryMs);
      this.retryTimer.unref();
    } finally {
      this.running = undefined;
      // An event recorded after the loop found the queue empty (by a caller resumed by the last
      // batch's callbacks, before this step) would otherwise wait for the next one.
      if ((this.queue.length > 0 || this.spillsPending) && !this.retryTimer) this.start();
    }
  }

  /** Takes batches off the queue until it is empty; a failed batch goes back first in line. */
  private async writeBatches(): Promise<number> {
    let written = 0;
    while (this.queue.length > 0) {
      // Paced under load: fewer, larger statements (each costs PostgreSQL a commit and a WAL
      // flush whatever its size); a flush or a full batch does not wait, nor does a quiet trail.
      const wait = this.lastWriteAt + this.intervalMs - Date.now();
      if (
        wait > 0 &&
        this.lastBatchSize >= PACED_FROM &&
        !this.flushing &&
        this.queue.length < this.batchMax
      )
        await sleep(wait);
      this.lastWriteAt = Date.now();
      const batch = this.queue.splice(0, this.batchMax);
      this.lastBatchSize = batch.length;
      this.inflight += batch.length;
      try {
        await this.appendOrIsolate(batch.map((p) => p.fields));
      } catch (error) {
        this.queue.unshift(...batch);
        throw error;
      } finally {
        this.inflight -= batch.length;
      }
      this.metrics.written(batch.length);
      written += batch.length;
      for (const p of batch) p.done?.();
    }
    return written;
  }

  /**
   * One batch appended; if PostgreSQL refuses the data itself (SQLSTATE classes 22, 23 — never
   * expected, the events are sanitized), the batch is retried one event at a time and the
   * refused ones are dropped, counted and logged, so one bad event cannot block the trail.
   */
  private async appendOrIsolate(events: string[]): Promise<void> {
    try {
      await this.append(events);
    } catch (error) {
      if (!isDataError(error)) throw error;
      for (const event of events) {
        try {
          await this.append([event]);
        } catch (single) {
          if (!isDataError(single)) throw single;
          this.metrics.dropped(1);
          this.logger.error(
            `Audit event ${actionOf(event)} dropped: PostgreSQL refused it (${(single as Error).message})`,
          );
        }
      }
    }
  }

  /**
   * A spill file's events appended exactly once: its id is recorded in the appending transaction
   * (a file whose deletion a crash prevented is not appended again at the next start). If
   * PostgreSQL refuses the data, one event at a time (each with its own id), the refused ones
   * dropped as {@link appendOrIsolate} does. Returns how many were appended now.
   */
  private async replayOnce(id: string, events: string[]): Promise<number> {
    try {
      return (await this.appender.insertOnce(id, events)) ? events.length : 0;
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    let appended = 0;
    for (const [index, event] of events.entries()) {
      try {
        if (await this.appender.insertOnce(`${id}#${index}`, [event])) appended++;
      } catch (single) {
        if (!isDataError(single)) throw single;
        this.metrics.dropped(1);
        this.logger.error(
          `Audit event ${actionOf(event)} dropped: PostgreSQL refused it (${(single as Error).message})`,
        );
      }
    }
    return appended;
  }

  /** One batch onto the chain ({@link ChainAppender}: one statement, compare-and-set). */
  private append(events: string[]): Promise<void> {
    return this.appender.append(events);
  }

  /** Buffer full: the oldest half goes to a spill file. */
  private spillOldest(): void {
    const keep = Math.floor(this.options.bufferMax / 2);
    this.spill(
      this.queue.splice(0, this.queue.length - keep),
      `Audit buffer full (${this.options.bufferMax})`,
      true,
    );
  }

  /**
   * PostgreSQL just refused a write: if someone waits for an event to be durable (an admin change
   * answers once its event is stored), the buffer is spilled now — a spill file is durable, and
   * the answer is not held for the whole outage. All of it, oldest first, so the events keep
   * their order when the file is replayed.
   */
  private spillIfAwaited(): void {
    if (!this.queue.some((p) => p.done)) return;
    const pending = this.queue.splice(0);
    if (this.spill(pending, 'PostgreSQL unavailable')) return;
    // Not durable on disk either (DATA_DIR not writable, disk full): the events stay buffered, in
    // order, until the database answers — the buffer still bounds them — and those awaiting
    // them are answered now rather than held for the whole outage.
    this.queue.unshift(...pending);
    for (const p of pending) {
      p.done?.();
      p.done = undefined;
    }
  }

  /**
   * Writes `pending` to a spill file; true when it is there. If it cannot be written, the events
   * are dropped (counted and logged) when `dropOnFailure` — the buffer is full — else false.
   */
  private spill(pending: Pending[], why: string, dropOnFailure = false): boolean {
    if (pending.length === 0) return true;
    try {
      // One JSON array a line: the event's fields, in eventFields' order.
      writeSpillFile(
        this.options.spillDir,
        newSpillId(),
        SPILL_SUFFIX,
        pending.map((p) => `[${p.fields}]`).join('\n') + '\n',
      );
      this.metrics.spilled(pending.length);
      this.spillsPending = true;
      this.logger.warn(
        `${why}: ${pending.length} audit events spilled to ${this.options.spillDir}`,
      );
    } catch (error) {
      if (!dropOnFailure) {
        this.logger.error(
          `${why}: ${pending.length} audit events could not be spilled (${(error as Error).message}); kept in memory`,
        );
        return false;
      }
      this.metrics.dropped(pending.length);
      this.logger.error(
        `${pending.length} audit events dropped: ${why} and spill failed (${(error as Error).message})`,
      );
    }
    for (const p of pending) p.done?.();
    return true;
  }

  /** Inserts each spill file in one transaction, then deletes it. */
  private async replaySpills(): Promise<number> {
    this.spillsPending = false;
    let replayed = 0;
    for (const file of spillFilesToReplay(this.options.spillDir, SPILL_SUFFIX)) {
      const claim = claimSpillFile(this.options.spillDir, file);
      if (!claim) continue; // another replica sharing DATA_DIR took it
      const events = readFileSync(claim.claimed, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map(spilledFields);
      let appended: number;
      try {
        appended = await this.replayOnce(file.replace(/\.replaying\.\d+$/, ''), events);
      } catch (error) {
        claim.release();
        this.spillsPending = true;
        throw error;
      }
      unlinkSync(claim.claimed);
      if (appended === 0 && events.length > 0) {
        this.logger.warn(`Spilled audit events of ${file} were appended before; file removed`);
        continue;
      }
      this.metrics.written(appended);
      replayed += appended;
      this.logger.log(`Replayed ${appended} spilled audit events from ${file}`);
    }
    return replayed;
  }
}

/**
 * A spill file's line as {@link eventFields} text: a JSON array of the fields (this version), or
 * a PreparedEvent object (files spilled by earlier versions).
 */
function spilledFields(line: string): string {
  const value = JSON.parse(line) as unknown;
  if (Array.isArray(value)) return JSON.stringify(value).slice(1, -1);
  return eventFields(value as PreparedEvent);
}

/** The action of an event given as {@link eventFields} text (for a log line). */
function actionOf(fields: string): string {
  try {
    return String((JSON.parse(`[${fields}]`) as unknown[])[1]);
  } catch {
    return 'unknown';
  }
}

/** PostgreSQL refused the data (22xxx data exception, 23xxx integrity), not the connection. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
