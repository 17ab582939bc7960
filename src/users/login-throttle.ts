import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { usersConfig } from '../config/configuration';
import { every, PeriodicJob } from '../common/periodic';

/**
 * Brute-force protection for password login, per account and per client IP. The counters are
 * rows in PostgreSQL (table `login_attempts`), updated with one atomic upsert each, so every
 * replica sees the same counts and a restart does not forget a lockout. Unknown emails are
 * counted exactly like known ones: a lockout never reveals whether an account exists.
 *
 * Within LOGIN_LOCKOUT of the first failure, the LOGIN_MAX_FAILURES-th failure for an account
 * (or the LOGIN_MAX_FAILURES_PER_IP-th from one address) locks it for LOGIN_LOCKOUT; while
 * locked every attempt, even with the right password, answers 429 with `Retry-After` (the
 * login refuses it: {@link lockoutOf} says which lock and for how long).
 * A successful login clears the account's counter (not the address's).
 */
@Injectable()
export class LoginThrottle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LoginThrottle');
  private job?: PeriodicJob;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(usersConfig.KEY) private readonly config: ConfigType<typeof usersConfig>,
  ) {}

  /** LOGIN_LOCKOUT, in seconds: the counting window and the length of a lockout. */
  get lockoutSeconds(): number {
    return this.config.lockoutSeconds;
  }

  onApplicationBootstrap(): void {
    // Failed attempts for random emails would otherwise pile up forever.
    this.job = every(
      PURGE_INTERVAL_MS,
      () => this.purgeExpired(),
      (e) => this.logger.warn(`Purge failed: ${e.message}`),
    );
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  /** Deletes counters whose window and lockout are both over (safe on every replica at once). */
  async purgeExpired(): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM login_attempts
        WHERE window_started <= now() - make_interval(secs => $1)
          AND (locked_until IS NULL OR locked_until <= now())`,
      [this.config.lockoutSeconds],
    );
  }

  /**
   * The lockout in force for the account or the IP (the one that ends last: its scope and the
   * seconds to wait), or undefined.
   */
  async lockoutOf(email: string, ip?: string): Promise<Lockout | undefined> {
    const rows: Array<{ key: string; wait: number | null }> = await this.dataSource.query(
      `SELECT key, ceil(extract(epoch FROM locked_until - now()))::int AS wait
         FROM login_attempts WHERE key = ANY($1) AND locked_until > now()
        ORDER BY locked_until DESC LIMIT 1`,
      [this.keys(email, ip).map(([key]) => key)],
    );
    const [row] = rows;
    if (!row || row.wait === null || row.wait <= 0) return undefined;
    return { scope: scopeOf(row.key), seconds: row.wait };
  }

  /**
   * Counts one failed attempt against the account and the IP; may start a lockout. Returns the
   * lockouts this failure started (the account's, the address's; each for LOGIN_LOCKOUT).
   */
  async recordFailure(email: string, ip?: string): Promise<LockoutScope[]> {
    const started: LockoutScope[] = [];
    for (const [key, max] of this.keys(email, ip)) {
      const rows: Array<{ failures: number }> = await this.dataSource.query(
        `INSERT INTO login_attempts AS a (key, failures, window_started, locked_until)
         VALUES ($1, 1, now(), CASE WHEN 1 >= $3 THEN now() + make_interval(secs => $2) END)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN a.window_started <= now() - make_interval(secs => $2)
                           THEN 1 ELSE a.failures + 1 END,
           window_started = CASE WHEN a.window_started <= now() - make_interval(secs => $2)
                                 THEN now() ELSE a.window_started END,
           locked_until = CASE
             WHEN (CASE WHEN a.window_started <= now() - make_interval(secs => $2)
                        THEN 1 ELSE a.failures + 1 END) >= $3
             THEN now() + make_interval(secs => $2)
             ELSE a.locked_until END
         RETURNING failures`,
        [key, this.config.lockoutSeconds, max],
      );
      // The failure that reached the maximum is the one that locked (later ones, racing it on
      // another replica, only extend the lockout).
      if (rows[0]?.failures === max) started.push(scopeOf(key));
    }
    return started;
  }

  /** A successful login forgets the account's failures. */
  async recordSuccess(email: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_attempts WHERE key = $1', [accountKey(email)]);
  }

  private keys(email: string, ip?: string): Array<[string, number]> {
    const keys: Array<[string, number]> = [[accountKey(email), this.config.maxFailures]];
    if (ip) keys.push([`ip:${ip}`, this.config.maxFailuresPerIp]);
    return keys;
  }
}

/** What a lockout locks: an account (an email, known or not) or a client address. */
export type LockoutScope = 'account' | 'address';

export interface Lockout {
  scope: LockoutScope;
  /** Seconds until it ends (the 429's Retry-After). */
  seconds: number;
}

function scopeOf(key: string): LockoutScope {
  return key.startsWith('ip:') ? 'address' : 'account';
}

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

function accountKey(email: string): string {
  return `account:${email.trim().toLowerCase()}`;
}
