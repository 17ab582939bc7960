import { Logger } from '@nestjs/common';
import type { Worker } from 'node:cluster';
import Redis from 'ioredis';
import { ServiceUnavailableError } from '../common/errors';
import { PendingCalls, type IpcChannel } from '../common/ipc-channel';

/** One counter a reservation needs room in: `amount` more of at most `limit`, until `resetAt`. */
export interface CounterSpec {
  key: string;
  limit: number;
  amount: number;
  /** When the counter's window ends (ms since the epoch). */
  resetAt: number;
}

/** What a store answers: whether every counter had room, and each counter's value after. */
export interface ReserveResult {
  /** Index of the first counter without room, or -1. */
  refused: number;
  values: number[];
}

/** An amount added to a counter (a settlement: real usage minus what was reserved). */
export interface CounterDelta {
  key: string;
  amount: number;
  resetAt: number;
}

/** Token and budget counters: shared by replicas (Redis), by cluster workers (IPC), or local. */
export interface CounterStore {
  /** All or nothing: adds every amount only if every counter has room for it. */
  reserve(checks: CounterSpec[]): Promise<ReserveResult>;
  add(entries: CounterDelta[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reserve: every counter has room for its amount (and is not already spent), else nothing is
 * added. One round trip, atomic, so replicas cannot both take the last tokens.
 * KEYS: counters; ARGV: limit, amount, reset-at (ms) per counter. Returns the refused index (0:
 * none, else 1-based) and every counter's value as strings (Lua numbers lose fractions).
 */
const RESERVE_SCRIPT = `
local values = {}
local refused = 0
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  local limit = tonumber(ARGV[(i - 1) * 3 + 1])
  local amount = tonumber(ARGV[(i - 1) * 3 + 2])
  values[i] = used
  if refused == 0 and (used >= limit or used + amount > limit) then refused = i end
end
if refused == 0 then
  for i, key in ipairs(KEYS) do
    values[i] = tonumber(redis.call('INCRBYFLOAT', key, ARGV[(i - 1) * 3 + 2]))
    redis.call('PEXPIREAT', key, ARGV[(i - 1) * 3 + 3])
  end
end
local out = {tostring(refused)}
for i = 1, #values do out[i + 1] = tostring(values[i]) end
return out
`;

/** Settle: add each delta (the real usage minus the reservation), keeping the expiry. */
const SETTLE_SCRIPT = `
for i, key in ipairs(KEYS) do
  redis.call('INCRBYFLOAT', key, ARGV[(i - 1) * 2 + 1])
  redis.call('PEXPIREAT', key, ARGV[(i - 1) * 2 + 2])
end
return #KEYS
`;

type LimiterClient = Redis & {
  tesseraReserve(...args: Array<string | number>): Promise<string[]>;
  tesseraSettle(...args: Array<string | number>): Promise<number>;
};

/** Counters in Redis (`rate_limit_backend: redis`): every replica reserves atomically in one. */
export class RedisCounterStore implements CounterStore {
  private readonly logger = new Logger('GatewayLimits');
  private readonly client: LimiterClient;
  private lastWarning = 0;

  constructor(url: string) {
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectTimeout: 2000,
      lazyConnect: true,
    }) as LimiterClient;
    this.client.defineCommand('tesseraReserve', { lua: RESERVE_SCRIPT });
    this.client.defineCommand('tesseraSettle', { lua: SETTLE_SCRIPT });
    this.client.on('error', (error: Error) => this.warn(error.message));
  }

  async connect(): Promise<void> {
    await this.client.connect().catch((error: Error) => this.warn(error.message));
  }

  async reserve(checks: CounterSpec[]): Promise<ReserveResult> {
    try {
      const args: Array<string | number> = [checks.length, ...checks.map((c) => c.key)];
      for (const c of checks) args.push(c.limit, c.amount, c.resetAt + 1000);
      const [refused, ...values] = await this.client.tesseraReserve(...args);
      return { refused: Number(refused) - 1, values: values.map(Number) };
    } catch (error) {
      // Fail closed, as the request limiter does: an unnoticed open limit is an outage too.
      this.warn((error as Error).message);
      throw new ServiceUnavailableError('Usage limit store unavailable');
    }
  }

  async add(entries: CounterDelta[]): Promise<void> {
    if (!entries.length) return;
    const args: Array<string | number> = [entries.length, ...entries.map((e) => e.key)];
    for (const e of entries) args.push(e.amount, e.resetAt + 1000);
    await this.client.tesseraSettle(...args).catch((error: Error) => this.warn(error.message));
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private warn(message: string): void {
    if (Date.now() - this.lastWarning < 10_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(`Redis (usage limits): ${message}`);
  }
}

/** Counters in this process's memory (one replica; or the cluster primary for its workers). */
export class MemoryCounterStore implements CounterStore {
  private readonly counters = new Map<string, { value: number; resetAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async reserve(checks: CounterSpec[]): Promise<ReserveResult> {
    return this.reserveNow(checks);
  }

  async add(entries: CounterDelta[]): Promise<void> {
    this.addNow(entries);
  }

  async close(): Promise<void> {}

  /** Synchronous core of {@link reserve}. */
  reserveNow(checks: CounterSpec[]): ReserveResult {
    const now = this.now();
    const current = checks.map((c) => {
      const entry = this.counters.get(c.key);
      return entry && entry.resetAt > now ? entry.value : 0;
    });
    const refused = checks.findIndex(
      (c, i) => current[i] >= c.limit || current[i] + c.amount > c.limit,
    );
    if (refused >= 0) return { refused, values: current };
    if (this.counters.size > 100_000) this.sweep(now);
    return {
      refused: -1,
      values: checks.map((c, i) => {
        const value = current[i] + c.amount;
        this.counters.set(c.key, { value, resetAt: c.resetAt });
        return value;
      }),
    };
  }

  /** Synchronous core of {@link add}. */
  addNow(entries: CounterDelta[]): void {
    const now = this.now();
    for (const e of entries) {
      const entry = this.counters.get(e.key);
      if (entry && entry.resetAt > now) entry.value += e.amount;
    }
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.counters) if (entry.resetAt <= now) this.counters.delete(key);
  }
}

/** A reservation asked of the primary: [id, [key, limit, amount, resetAt] per counter]. */
type Reserve = [number, Array<[string, number, number, number]>];
/** Its answer: [id, refused index or -1, values]. */
type Answer = [number, number, number[]];

interface AskMessage {
  tessera: 'usage-limit';
  reserve: Reserve[];
  add: Array<[string, number, number]>;
  /** Call ids to answer (`[id, -1, []]`) once `add` is applied: settlements awaited. */
  acks: number[];
}
interface AnswerMessage {
  tessera: 'usage-limit';
  answers: Answer[];
}

function isAsk(message: unknown): message is AskMessage {
  const m = message as AskMessage | null;
  return (
    m?.tessera === 'usage-limit' &&
    Array.isArray(m.reserve) &&
    Array.isArray(m.add) &&
    Array.isArray(m.acks)
  );
}

function isAnswer(message: unknown): message is AnswerMessage {
  const m = message as AnswerMessage | null;
  return m?.tessera === 'usage-limit' && Array.isArray(m.answers);
}

/** How long a settlement waits for the primary's acknowledgement. */
const SETTLE_WAIT_MS = 1000;

function unavailable(): ServiceUnavailableError {
  return new ServiceUnavailableError('Usage limit store unavailable');
}

/**
 * The token and budget counters of a cluster worker (WORKERS > 1 without Redis): they live in the
 * primary's one {@link MemoryCounterStore}, so all workers share one allowance per principal, as
 * the memory rate limiter's counters are shared (ipc-throttler.storage.ts). The reservations and
 * settlements of one event-loop turn travel in one IPC message; a settlement resolves once the
 * primary has applied it. Without the primary, reserving fails closed (503), as with an
 * unreachable Redis; a settlement that cannot be sent is dropped.
 */
export class IpcCounterStore implements CounterStore {
  private reserves: Reserve[] = [];
  private adds: Array<[string, number, number]> = [];
  private acks: number[] = [];
  private scheduled = false;
  private readonly pending = new PendingCalls<ReserveResult>(unavailable);

  constructor(private readonly channel: IpcChannel = process as unknown as IpcChannel) {
    channel.on('message', (message) => {
      if (isAnswer(message)) this.settle(message.answers);
    });
    channel.on('disconnect', () => this.pending.failAll());
  }

  reserve(checks: CounterSpec[]): Promise<ReserveResult> {
    if (!this.channel.connected || !this.channel.send) return Promise.reject(unavailable());
    const { id, answer } = this.pending.open();
    this.reserves.push([id, checks.map((c) => [c.key, c.limit, c.amount, c.resetAt])]);
    this.schedule();
    return answer;
  }

  async add(entries: CounterDelta[]): Promise<void> {
    if (!entries.length || !this.channel.connected) return;
    for (const e of entries) this.adds.push([e.key, e.amount, e.resetAt]);
    const { id, answer } = this.pending.open();
    this.acks.push(id);
    this.schedule();
    // Waited for at most a second, as a Redis settlement is (commandTimeout): a stalled primary
    // must not hold the answer. Gone, it has nothing to settle against.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      answer.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_WAIT_MS).unref())),
    ]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {}

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const message: AskMessage = {
      tessera: 'usage-limit',
      reserve: this.reserves,
      add: this.adds,
      acks: this.acks,
    };
    this.reserves = [];
    this.adds = [];
    this.acks = [];
    const fail = () => {
      for (const [id] of message.reserve) this.pending.fail(id);
      for (const id of message.acks) this.pending.fail(id);
    };
    try {
      if (!this.channel.connected || !this.channel.send) return fail();
      this.channel.send(message, (error) => {
        if (error) fail();
      });
    } catch {
      fail();
    }
  }

  private settle(answers: Answer[]): void {
    for (const [id, refused, values] of answers) this.pending.settle(id, { refused, values });
  }
}

/**
 * The primary's side: applies a worker's settlements and answers its reservations from one
 * {@link MemoryCounterStore} shared by every worker (settlements first: they free room).
 */
export function serveUsageLimits(worker: Worker, store: MemoryCounterStore): void {
  worker.on('message', (message) => {
    if (!isAsk(message)) return;
    if (message.add.length)
      store.addNow(message.add.map(([key, amount, resetAt]) => ({ key, amount, resetAt })));
    if ((!message.reserve.length && !message.acks.length) || !worker.isConnected()) return;
    const answers = message.reserve.map(([id, checks]): Answer => {
      const result = store.reserveNow(
        checks.map(([key, limit, amount, resetAt]) => ({ key, limit, amount, resetAt })),
      );
      return [id, result.refused, result.values];
    });
    for (const id of message.acks) answers.push([id, -1, []]);
    worker.send({ tessera: 'usage-limit', answers } satisfies AnswerMessage);
  });
}
