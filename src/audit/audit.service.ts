import { isDigits, keysetPage } from '../common/keyset-page';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { auditConfig } from '../config/configuration';
import { AuditEventEntity, AuditOutcome } from './audit-event.entity';
import { every, PeriodicJob } from '../common/periodic';

export interface AuditRecord {
  action: string;
  outcome: AuditOutcome;
  actor?: string;
  actorMethod?: string;
  target?: string;
  ip?: string;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  outcome?: AuditOutcome;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit?: number;
}

export interface AuditPage {
  events: Array<
    Omit<AuditRecord, 'details'> & { id: string; at: Date; details: Record<string, unknown> }
  >;
  next_cursor: string | null;
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Keys whose values must never reach the audit trail, whatever a caller passes in details. */
const SECRET_KEYS = /secret|password|token|authorization|api_?key/i;

/**
 * The audit trail. Called by every module, calls none. `record` writes one row and never throws
 * into the caller: an audit failure is logged, the user's request is not failed by it.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private job?: PeriodicJob;

  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    @Inject(auditConfig.KEY) private readonly config: ConfigType<typeof auditConfig>,
  ) {}

  onApplicationBootstrap(): void {
    this.job = every(
      PURGE_INTERVAL_MS,
      () => this.purge(),
      (e) => this.logger.warn(`Audit purge failed: ${e.message}`),
    );
  }

  onApplicationShutdown(): void {
    this.job?.stop();
  }

  /** Records one event; resolves when it is stored (await it where the event must not be lost). */
  async record(event: AuditRecord): Promise<void> {
    try {
      await this.events.insert({
        action: event.action,
        outcome: event.outcome,
        actor: event.actor ?? null,
        actorMethod: event.actorMethod ?? null,
        target: event.target ?? null,
        ip: event.ip ?? null,
        details: scrub(event.details ?? {}) as never,
      });
    } catch (error) {
      this.logger.error(
        `Could not record audit event ${event.action}: ${(error as Error).message}`,
      );
    }
  }

  /** Newest first, with an opaque cursor for the next (older) page. */
  async list(filter: AuditFilter): Promise<AuditPage> {
    const query = this.events.createQueryBuilder('e');
    if (filter.action) {
      // `token.*` matches every action under `token.`.
      if (filter.action.endsWith('.*'))
        query.andWhere('e.action LIKE :prefix', { prefix: `${filter.action.slice(0, -1)}%` });
      else query.andWhere('e.action = :action', { action: filter.action });
    }
    if (filter.actor) query.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.target) query.andWhere('e.target = :target', { target: filter.target });
    if (filter.outcome) query.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (filter.since) query.andWhere('e.at >= :since', { since: filter.since });
    if (filter.until) query.andWhere('e.at < :until', { until: filter.until });
    const page = await keysetPage(query, {
      keys: [{ expr: 'e.id', valid: isDigits }],
      cursorOf: (e) => [e.id],
      cursor: filter.cursor,
      limit: filter.limit,
    });
    return {
      events: page.items.map((e) => ({
        id: e.id,
        at: e.at,
        action: e.action,
        outcome: e.outcome,
        actor: e.actor ?? undefined,
        actorMethod: e.actorMethod ?? undefined,
        target: e.target ?? undefined,
        ip: e.ip ?? undefined,
        details: e.details,
      })),
      next_cursor: page.nextCursor,
    };
  }

  /** Deletes events older than AUDIT_RETENTION. */
  async purge(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.config.retentionSeconds * 1000);
    const result = await this.events
      .createQueryBuilder()
      .delete()
      .where('at < :cutoff', { cutoff })
      .execute();
    return result.affected ?? 0;
  }
}

function scrub(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [k, SECRET_KEYS.test(k) ? '[redacted]' : v]),
  );
}
