import type { DataSource, EntityManager } from 'typeorm';
import { preparedQuery } from '../database/prepared-query';
import { chainedText, hashOf } from './audit-chain';

/** Runs SQL: the DataSource's pool, or one transaction's manager. */
type Queryable = Pick<EntityManager, 'query'>;

/** The chain head: the last event's id and hash. */
interface ChainHead {
  id: bigint;
  hash: string;
}

/** How many lost compare-and-set races before a batch takes the head's row lock instead. */
const RACES_BEFORE_LOCKING = 5;

/**
 * Appends batches of events to the audit chain.
 *
 * A batch is one statement, without a transaction held open across round trips: the events are
 * numbered and hashed after the chain head as this appender last saw it, and the statement moves
 * the head only if it is still there (compare-and-set on `audit_chain`), inserting the rows in
 * the same statement. When another replica (or the CLI) appended in the meantime nothing is
 * written; the head is read again and the batch hashed again. After a few lost races in a row,
 * or for more rows than one statement takes, the batch goes through {@link insert}, which holds
 * the head's row lock for one transaction.
 */
export class ChainAppender {
  /** The head after this appender's last append (undefined: read it from the database). */
  private head: ChainHead | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly batchMax = 2000,
  ) {}

  /** `events`: each one's {@link eventFields} text. */
  async append(events: string[]): Promise<void> {
    if (events.length === 0) return;
    if (events.length > this.batchMax) return this.insert(events);
    for (let attempt = 0; attempt < RACES_BEFORE_LOCKING; attempt++) {
      const head = this.head ?? (await readHead(this.dataSource));
      const { rows, last } = chainRows(events, head);
      this.head = undefined; // unknown until the statement answers
      const [row] = await preparedQuery<{ n: number }>(
        this.dataSource,
        'tessera_audit_append',
        APPEND,
        [rows, last.id.toString(), last.hash, head.id.toString(), head.hash],
      );
      if (row?.n === events.length) {
        this.head = last;
        return;
      }
      // Another writer moved the head: read it again, hash the batch again.
    }
    await this.insert(events);
  }

  /**
   * Appends events in one transaction that holds the head's row lock (any number of events, in
   * chunked statements): a spill file's replay, a batch that lost the race too often.
   */
  async insert(events: string[]): Promise<void> {
    if (events.length === 0) return;
    this.head = undefined; // unknown if the transaction fails
    this.head = await this.dataSource.transaction((manager) => this.appendIn(manager, events));
  }

  /**
   * {@link insert}, once per `replayId` (a spill file's): the id is recorded in the same
   * transaction, and an id recorded before appends nothing. False when it had been appended.
   */
  async insertOnce(replayId: string, events: string[]): Promise<boolean> {
    this.head = undefined; // unknown if the transaction fails
    const head = await this.dataSource.transaction(async (manager) => {
      const claimed = (await manager.query(
        'INSERT INTO audit_spill_replays (id, events) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id',
        [replayId, events.length],
      )) as unknown[];
      return claimed.length === 0 ? undefined : this.appendIn(manager, events);
    });
    this.head = head;
    return head !== undefined;
  }

  /**
   * Appends events within the caller's transaction, holding the head's row lock until it ends:
   * {@link insert}'s, or a retention purge's, whose `audit.purge` event is committed with the
   * anchor it records (so an anchor without its event is a forgery). Another writer's cached
   * head is then stale: its compare-and-set fails and it reads the head again.
   */
  async appendIn(manager: EntityManager, events: string[]): Promise<ChainHead> {
    // The chain head is a row lock that every replica's writer (and the CLI) may take. A
    // process that stalls while holding it would stall everyone's audit writes: PostgreSQL
    // ends such a transaction after 10 s idle, and a writer waits at most 10 s for the lock
    // (then its events stay buffered and are retried).
    await manager.query(
      "SET LOCAL lock_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = '10s'",
    );
    let head = await readHead(manager, true);
    for (let start = 0; start < events.length; start += this.batchMax) {
      const { rows, last } = chainRows(events.slice(start, start + this.batchMax), head);
      await manager.query(INSERT_ROWS, [rows]);
      head = last;
    }
    await manager.query(
      'UPDATE audit_chain SET last_id = $1, hash = $2, updated_at = now() WHERE id = 1',
      [head.id.toString(), head.hash],
    );
    return head;
  }
}

async function readHead(db: Queryable, lock = false): Promise<ChainHead> {
  const [head] = (await db.query(
    `SELECT last_id::text AS last_id, hash FROM audit_chain WHERE id = 1${lock ? ' FOR UPDATE' : ''}`,
  )) as Array<{ last_id: string; hash: string }>;
  return { id: BigInt(head.last_id), hash: head.hash };
}

/**
 * The events (their {@link eventFields} text) numbered and hashed after `head`, as one JSON array
 * of rows (each the chained text of {@link chainedText}, which the hash is taken over, with the
 * hash appended): no serialization here, only concatenation and the hash; PostgreSQL takes the
 * rows apart ({@link INSERT_ROWS}). One text parameter instead of thirteen arrays leaves the
 * per-row parsing and quoting to the database's process.
 */
export function chainRows(events: string[], head: ChainHead): { rows: string; last: ChainHead } {
  let id = head.id;
  let prev = head.hash;
  const rows: string[] = [];
  for (const fields of events) {
    id += 1n;
    const chained = chainedText(fields, id.toString(), prev);
    const hash = hashOf(chained);
    rows.push(`${chained.slice(0, -1)},"${hash}"]`); // the hashed array, the hash appended
    prev = hash;
  }
  return { rows: `[${rows.join(',')}]`, last: { id, hash: prev } };
}

/**
 * Inserts the rows of {@link chainRows} given as $1. As jsonb: parsed once into a form whose
 * array elements are reached directly (with `json`, each `->>` parses the row text again: three
 * times the database's CPU per event, measured).
 */
const INSERT_ROWS = `INSERT INTO audit_events
    (id, at, action, outcome, actor, actor_method, target, ip, user_agent, request_id, details, prev_hash, hash)
  SELECT (r->>1)::bigint, (r->>2)::timestamptz, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9,
    r->>10, (r->>11)::jsonb, r->>12, r->>13
  FROM jsonb_array_elements($1::jsonb) AS r`;

/**
 * A batch's one statement: moves the chain head from $4/$5 to $2/$3 and inserts the rows ($1)
 * only if the head was still there. A prepared statement: parsed and planned once per connection
 * (about 3 µs of the database's ~20 µs per event in batches of 50, measured).
 */
const APPEND = `WITH head AS (
    UPDATE audit_chain SET last_id = $2, hash = $3, updated_at = now()
    WHERE id = 1 AND last_id = $4 AND hash = $5
    RETURNING 1
  ), stored AS (${INSERT_ROWS} WHERE EXISTS (SELECT 1 FROM head) RETURNING 1)
  SELECT count(*)::int AS n FROM stored`;
