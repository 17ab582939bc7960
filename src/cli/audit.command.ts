import { Command, Option } from 'nest-commander';
import { AuditService } from '../audit/audit.service';
import { UsageError } from './cli-errors';
import { withContext } from './cli-context';
import { TesseraCommand } from './tessera-command';

interface AuditOptions {
  action?: string;
  actor?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  limit?: number;
  cursor?: string;
}

@Command({
  name: 'audit',
  description:
    'Print audit events as JSON, newest first (the same filters as GET /admin/audit; page with --cursor).',
})
export class AuditCommand extends TesseraCommand {
  async run(_args: string[], options: AuditOptions): Promise<void> {
    const since = options.since === undefined ? undefined : new Date(options.since);
    if (since && Number.isNaN(since.getTime()))
      throw new UsageError('--since must be an ISO 8601 date');
    // AuditModule is part of every command context.
    const page = await withContext([], (context) =>
      context.get(AuditService).list({
        action: options.action,
        actor: options.actor,
        outcome: options.outcome,
        since,
        limit: options.limit,
        cursor: options.cursor,
      }),
    );
    process.stdout.write(JSON.stringify(page, null, 2) + '\n');
  }

  @Option({
    flags: '--action <action>',
    description: 'an action, or a prefix ending in .* (client.*)',
  })
  parseAction(value: string): string {
    return value;
  }

  @Option({ flags: '--actor <subject>', description: 'the caller’s subject' })
  parseActor(value: string): string {
    return value;
  }

  @Option({ flags: '--outcome <outcome>', description: 'success or failure' })
  parseOutcome(value: string): string {
    if (value !== 'success' && value !== 'failure')
      throw new UsageError('--outcome must be success or failure');
    return value;
  }

  @Option({ flags: '--since <date>', description: 'ISO 8601 date' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: '1 to 500 (default 50)' })
  parseLimit(value: string): number {
    const limit = Number(value);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new UsageError('--limit must be a whole number from 1 to 500');
    return limit;
  }

  @Option({ flags: '--cursor <cursor>', description: 'next_cursor of the previous page' })
  parseCursor(value: string): string {
    return value;
  }
}
