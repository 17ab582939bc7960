import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { redactDatabaseMessage } from '../common/database-errors';

/**
 * TypeORM's own loggers print a failed query's parameters, and those are argon2id password
 * hashes, client-secret and API-key digests, emails, tokens' ids. This one logs the error's
 * (redacted) message and the query text with its placeholders ($1, $2…), never a parameter,
 * never the driver's `detail`.
 */
export class SafeTypeOrmLogger implements TypeOrmLogger {
  private readonly logger = new NestLogger('Database');

  logQuery(): void {
    // Successful queries are not logged.
  }

  /** `_parameters` is taken (TypeORM passes it) and deliberately never used. */
  logQueryError(error: string | Error, query: string, _parameters?: unknown[]): void {
    const message = typeof error === 'string' ? error : error.message;
    this.logger.error(`Query failed: ${redactDatabaseMessage(message)} — ${oneLine(query)}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`Slow query (${time} ms): ${oneLine(query)}`);
  }

  logSchemaBuild(): void {}

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = redactDatabaseMessage(String(message));
    if (level === 'warn') this.logger.warn(text);
    else this.logger.log(text);
  }
}

function oneLine(query: string): string {
  const text = query.replace(/\s+/g, ' ').trim();
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
