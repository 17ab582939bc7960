import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { canonicalJson, eventHash } from './audit-chain';

/** An event ready to store: plain JSON (it may be spilled to a file and read back). */
export interface PreparedEvent {
  at: string;
  action: string;
  outcome: string;
  actor: string | null;
  actorMethod: string | null;
  target: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface WriterOptions {
  /** Events held in memory before the oldest are spilled to `spillDir`. */
  bufferMax: number;
  spillDir: string;
  /** Rows per INSERT statement. */
  batchMax?: number;
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
  event: PreparedEvent;
  done?: () => void;
}

const MAX_RETRY_MS = 5000;
const SPILL_SUFFIX = '.ndjson';

/**
 * Writes audit events off the request path, in multi-row INSERTs, one transaction per batch:
 * lock the chain head, number and hash the events, insert them, move the head (so replicas
 * writing at once form one chain).
 *
 * Group commit: the first event starts a write at once (setImmediate); events arriving while
 * it runs are written together next. The buffer is bounded (`bufferMax`): while PostgreSQL is
 * down, writes are retried with back-off, and when the buffer is full its oldest half is
 * spilled to a file under DATA_DIR/audit-spill, replayed (one transaction per file) once the
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

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: WriterOptions,
    private readonly metrics: WriterMetrics,
    private readonly logger: Logger,
  ) {
    this.batchMax = options.batchMax ?? 2000;
  }

  /** Events waiting or being written. */
  get depth(): number {
    return this.queue.length + this.inflight;
  }

  enqueue(event: PreparedEvent, done?: () => void): void {
    this.queue.push({ event, done });
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
    if (!spillLeftovers) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.queue.length > 0) {
      const count = this.queue.length;
      this.spill(this.queue.splice(0));
      this.logger.warn(`PostgreSQL unavailable at shutdown: ${count} audit events spilled`);
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
      if (this.spillsPending) await this.replaySpills();
      // Two batches in flight: while one commits (and waits for its fsync), the next one takes
      // the chain head and inserts. They serialize on the head lock, so the chain stays a line.
      const results = await Promise.allSettled([this.writeBatches(), this.writeBatches()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (this.retryMs > 0) this.logger.log('Audit trail writes resumed');
      this.retryMs = 0;
    } catch (error) {
      // PostgreSQL unavailable: the batches are back in the queue; retry with back-off.
      if (this.retryMs === 0)
        this.logger.warn(
          `Audit events cannot be written (${(error as Error).message}); buffering ${this.queue.length}, retrying`,
        );
      this.retryMs = Math.min(MAX_RETRY_MS, Math.max(250, this.retryMs * 2));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.running) this.start();
      }, this.retryMs);
      this.retryTimer.unref();
    } finally {
      this.running = undefined;
    }
  }

  /** Takes batches off the queue until it is empty; a failed batch goes back first in line. */
  private async writeBatches(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchMax);
      this.inflight += batch.length;
      try {
        await this.insertOrIsolate(batch.map((p) => p.event));
      } catch (error) {
        this.queue.unshift(...batch);
        throw error;
      } finally {
        this.inflight -= batch.length;
      }
      this.metrics.written(batch.length);
      for (const p of batch) p.done?.();
    }
  }

  /**
   * One batch insert; if PostgreSQL refuses the data itself (SQLSTATE classes 22, 23 — never
   * expected, the events are sanitized), the batch is retried one event at a time and the
   * refused ones are dropped, counted and logged, so one bad event cannot block the trail.
   */
  private async insertOrIsolate(events: PreparedEvent[]): Promise<void> {
    try {
      await this.insert(events);
    } catch (error) {
      if (!isDataError(error)) throw error;
      for (const event of events) {
        try {
          await this.insert([event]);
        } catch (single) {
          if (!isDataError(single)) throw single;
          this.metrics.dropped(1);
          this.logger.error(
            `Audit event ${event.action} dropped: PostgreSQL refused it (${(single as Error).message})`,
          );
        }
      }
    }
  }

  /** Appends events to the chain in one transaction (any number: chunked statements). */
  async insert(events: PreparedEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      // The chain head is a row lock that every replica's writer (and the CLI) takes. A process
      // that stalls while holding it (a blocked event loop) would stall everyone's audit
      // writes: PostgreSQL ends such a transaction after 10 s idle, and a writer waits at most
      // 10 s for the lock (then its events stay buffered and are retried).
      await manager.query(
        "SET LOCAL lock_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = '10s'",
      );
      const [head] = (await manager.query(
        'SELECT last_id::text AS last_id, hash FROM audit_chain WHERE id = 1 FOR UPDATE',
      )) as Array<{ last_id: string; hash: string }>;
      let id = BigInt(head.last_id);
      let prev = head.hash;
      for (let start = 0; start < events.length; start += this.batchMax) {
        const chunk = events.slice(start, start + this.batchMax);
        const columns: unknown[][] = Array.from({ length: 13 }, () => []);
        for (const e of chunk) {
          id += 1n;
          const idText = id.toString();
          const at = new Date(e.at);
          // One serialization of the details for both the hash and the column (jsonb keeps the
          // value; the hash is over this canonical text, which survives jsonb's key order).
          const details = canonicalJson(e.details);
          const hash = eventHash({ ...e, id: idText, at, prevHash: prev }, details);
          const row = [
            idText,
            // As text: PostgreSQL parses ISO 8601; node-postgres would format a Date per element.
            at.toISOString(),
            e.action,
            e.outcome,
            e.actor,
            e.actorMethod,
            e.target,
            e.ip,
            e.userAgent,
            e.requestId,
            details,
            prev,
            hash,
          ];
          for (let i = 0; i < row.length; i++) columns[i].push(row[i]);
          prev = hash;
        }
        await insertChunk(manager, columns);
      }
      await manager.query(
        'UPDATE audit_chain SET last_id = $1, hash = $2, updated_at = now() WHERE id = 1',
        [id.toString(), prev],
      );
    });
  }

  /** Buffer full: the oldest half goes to a spill file. */
  private spillOldest(): void {
    const keep = Math.floor(this.options.bufferMax / 2);
    this.spill(this.queue.splice(0, this.queue.length - keep));
  }

  private spill(pending: Pending[]): void {
    if (pending.length === 0) return;
    const name = `${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      mkdirSync(this.options.spillDir, { recursive: true, mode: 0o700 });
      const tmp = join(this.options.spillDir, `${name}.tmp`);
      writeFileSync(tmp, pending.map((p) => JSON.stringify(p.event)).join('\n') + '\n', {
        mode: 0o600,
      });
      renameSync(tmp, join(this.options.spillDir, name + SPILL_SUFFIX));
      this.metrics.spilled(pending.length);
      this.spillsPending = true;
      this.logger.warn(
        `Audit buffer full (${this.options.bufferMax}): ${pending.length} events spilled to ${this.options.spillDir}`,
      );
    } catch (error) {
      this.metrics.dropped(pending.length);
      this.logger.error(
        `${pending.length} audit events dropped: buffer full and spill failed (${(error as Error).message})`,
      );
    }
    for (const p of pending) p.done?.();
  }

  /** Inserts each spill file in one transaction, then deletes it. */
  private async replaySpills(): Promise<void> {
    this.spillsPending = false;
    let files: string[];
    try {
      files = readdirSync(this.options.spillDir)
        .filter((f) => f.endsWith(SPILL_SUFFIX) || orphanedReplay(f))
        .sort();
    } catch {
      return; // no directory: nothing was ever spilled
    }
    for (const file of files) {
      const path = join(this.options.spillDir, file);
      const claimed = `${path.replace(/\.replaying\.\d+$/, '')}.replaying.${process.pid}`;
      try {
        renameSync(path, claimed); // another replica sharing DATA_DIR may have taken it
      } catch {
        continue;
      }
      const events = readFileSync(claimed, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as PreparedEvent);
      try {
        await this.insertOrIsolate(events);
      } catch (error) {
        renameSync(claimed, path.replace(/\.replaying\.\d+$/, ''));
        this.spillsPending = true;
        throw error;
      }
      unlinkSync(claimed);
      this.metrics.written(events.length);
      this.logger.log(`Replayed ${events.length} spilled audit events from ${file}`);
    }
  }
}

async function insertChunk(manager: EntityManager, columns: unknown[][]): Promise<void> {
  await manager.query(
    `INSERT INTO audit_events
       (id, at, action, outcome, actor, actor_method, target, ip, user_agent, request_id, details, prev_hash, hash)
     SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[])`,
    columns,
  );
}

/** PostgreSQL refused the data (22xxx data exception, 23xxx integrity), not the connection. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

/** `…replaying.<pid>` left by a process that died mid-replay. */
function orphanedReplay(file: string): boolean {
  const match = /\.replaying\.(\d+)$/.exec(file);
  if (!match) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
