import { once } from 'node:events';
import { Command, Option, SubCommand } from 'nest-commander';
import { AuditService } from '../audit/audit.service';
import { emptyFilterProblem } from '../audit/dto/list-audit.dto';
import { UsageError } from './cli-errors';
import { recordCliChange, withContext } from './cli-context';
import { isoDateTimeProblem, parseIsoDateTime } from '../common/iso-date';
import { isDatabaseUnavailable } from '../common/database-errors';
import { describeStartupError, StartupError } from '../common/startup-error';
import { TesseraCommand } from './tessera-command';
import { PAGE_LIMIT_PROBLEM, parsePageLimit } from '../common/page-query.dto';

interface AuditOptions {
  action?: string;
  actor?: string;
  target?: string;
  requestId?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

function parseOutcome(value: string): string {
  if (value !== 'success' && value !== 'failure')
    throw new UsageError('--outcome must be success or failure');
  return value;
}

/** `--since`/`--until`: read as the HTTP API reads them (2026-02-30 is refused, not March 2nd). */
function dateOption(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = parseIsoDateTime(value);
  if (!date) throw new UsageError(isoDateTimeProblem(`--${name}`, value));
  return date;
}

/** `requestId` → `--request-id`. */
function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function filterOf(options: AuditOptions) {
  // `--actor ''` (an unset shell variable) matched every event, as `?actor=` did.
  for (const name of ['action', 'actor', 'target', 'requestId'] as const)
    if (options[name] === '') throw new UsageError(emptyFilterProblem(flagOf(name)));
  return {
    action: options.action,
    actor: options.actor,
    target: options.target,
    requestId: options.requestId,
    outcome: options.outcome,
    since: dateOption('since', options.since),
    until: dateOption('until', options.until),
  };
}

/**
 * A whole-trail command (verify, purge) that takes no filter: commander hands the filter options
 * to the parent `audit` command, so they are refused here rather than ignored.
 */
function refuseFilters(command: TesseraCommand['command'], verb: string, why: string): void {
  const given = Object.entries(command.parent?.opts() ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  if (given.length > 0)
    throw new UsageError(
      `audit ${verb} takes no options (${given.map(flagOf).join(', ')} given): ${why}`,
    );
}

/**
 * Runs `work` with the audit service; when PostgreSQL cannot be reached (a StartupError by now:
 * the connection is retried first), says so on stderr and exits 3, so that a monitor tells "the
 * trail is broken" (exit 1) from "the command could not run". Undefined then.
 */
async function withAudit<T>(
  verb: string,
  work: (audit: AuditService) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await withContext([], (context) => work(context.get(AuditService)));
  } catch (error) {
    if (!(error instanceof StartupError || isDatabaseUnavailable(error))) throw error;
    process.stderr.write(`cannot ${verb}: ${describeStartupError(error)}\n`);
    process.exitCode = 3;
    return undefined;
  }
}

/**
 * `tessera audit verify`: walks the hash chain; prints `intact` (exit 0) or the first broken link
 * (exit 1), like GET /admin/audit/verify — or, when PostgreSQL cannot be reached, says so and
 * exits 3.
 */
@SubCommand({
  name: 'verify',
  description:
    'Check the audit trail’s hash chain: prints "intact" (exit 0) or the first broken link (exit 1); exit 3 when PostgreSQL cannot be reached',
})
export class AuditVerifyCommand extends TesseraCommand {
  async run(): Promise<void> {
    refuseFilters(this.command, 'verify', 'it checks the whole chain');
    const result = await withAudit('verify', (audit) => audit.verify());
    if (!result) return;
    if (result.intact) {
      process.stdout.write(`intact (${result.checked} events checked)\n`);
      return;
    }
    const broken = result.first_broken;
    process.stdout.write(
      `broken at event ${broken?.id}: ${broken?.reason} (${result.checked} events checked)\n`,
    );
    process.exitCode = 1;
  }
}

/**
 * `tessera audit purge`: the retention purge now (a running server does it 10 s after its start,
 * then hourly): deletes the events older than AUDIT_RETENTION and re-anchors the chain, as an
 * `audit.purge` event. Exit 3 when PostgreSQL cannot be reached.
 */
@SubCommand({
  name: 'purge',
  description:
    'Delete audit events older than AUDIT_RETENTION now, re-anchoring the chain (a server does it at start and hourly)',
})
export class AuditPurgeCommand extends TesseraCommand {
  async run(): Promise<void> {
    refuseFilters(this.command, 'purge', 'it deletes what AUDIT_RETENTION says');
    const result = await withAudit('purge', (audit) => audit.purge());
    if (!result) return;
    process.stdout.write(
      result.purged === 0
        ? 'nothing to purge: no event is older than AUDIT_RETENTION\n'
        : `purged ${result.purged} events; the chain is anchored at event ${result.anchor?.through_id}\n`,
    );
  }
}

/** `tessera audit export [filters]`: every matching event as NDJSON on stdout, oldest first. */
@SubCommand({
  name: 'export',
  description:
    'Write every matching audit event as NDJSON to stdout, oldest first (filters as GET /admin/audit/export)',
})
export class AuditExportCommand extends TesseraCommand {
  async run(_args: string[], options: AuditOptions): Promise<void> {
    // commander hands the filter options to the parent `audit` command, which declares the
    // same ones for the listing: take them from either.
    const parent = (this.command.parent?.opts() ?? {}) as AuditOptions;
    // As GET /admin/audit/export refuses limit= and cursor=: an export is every matching event.
    // commander hands an option `export` does not declare to this parent, which does
    // (`audit export --limit 5` exported the whole trail, exit 0).
    const paging = (['limit', 'cursor'] as const).filter((name) => parent[name] !== undefined);
    if (paging.length > 0)
      throw new UsageError(
        `audit export has no pages: ${paging.map(flagOf).join(' and ')} ${paging.length > 1 ? 'are' : 'is'} for the listing (tessera audit)`,
      );
    const filter = filterOf({ ...parent, ...options });
    await withContext([], async (context) => {
      // As the HTTP export is: who exported what (before the lines, so it is in the trail even
      // when the export is cut short).
      await recordCliChange(context, 'audit.export', undefined, {
        filter: { ...parent, ...options },
      });
      for await (const line of context.get(AuditService).exportLines(filter)) {
        if (!process.stdout.write(line)) await once(process.stdout, 'drain');
      }
    });
  }

  @Option({ flags: '--action <action>', description: 'an action, or a prefix ending in .*' })
  parseAction(value: string): string {
    return value;
  }

  @Option({ flags: '--actor <subject>', description: 'the caller’s subject' })
  parseActor(value: string): string {
    return value;
  }

  @Option({ flags: '--target <target>', description: 'the id acted on' })
  parseTarget(value: string): string {
    return value;
  }

  @Option({ flags: '--request-id <id>', description: 'the request the events happened in' })
  parseRequestId(value: string): string {
    return value;
  }

  @Option({ flags: '--outcome <outcome>', description: 'success or failure' })
  parseOutcome(value: string): string {
    return parseOutcome(value);
  }

  @Option({ flags: '--since <date>', description: 'ISO 8601 date' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <date>', description: 'ISO 8601 date' })
  parseUntil(value: string): string {
    return value;
  }
}

@Command({
  name: 'audit',
  description:
    'Print audit events as JSON, newest first (the same filters as GET /admin/audit; page with --cursor); audit verify, audit export, audit purge',
  subCommands: [AuditVerifyCommand, AuditExportCommand, AuditPurgeCommand],
})
export class AuditCommand extends TesseraCommand {
  async run(args: string[], options: AuditOptions): Promise<void> {
    if (args.length > 0)
      throw new UsageError(
        `unknown audit command "${args[0]}" (verify, export, purge, or filters)`,
      );
    // AuditModule is part of every command context.
    const page = await withContext([], (context) =>
      context.get(AuditService).list({
        ...filterOf(options),
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
    return parseOutcome(value);
  }

  @Option({ flags: '--since <date>', description: 'ISO 8601 date' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--target <target>', description: 'the id acted on' })
  parseTarget(value: string): string {
    return value;
  }

  @Option({ flags: '--request-id <id>', description: 'the request the events happened in' })
  parseRequestId(value: string): string {
    return value;
  }

  @Option({ flags: '--until <date>', description: 'ISO 8601 date' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: '1 to 500 (default 50)' })
  parseLimit(value: string): number {
    // As GET /admin/audit reads ?limit= (0x10, 1e2, 010 and 5.0 are refused).
    const limit = parsePageLimit(value);
    if (limit === undefined) throw new UsageError(`--${PAGE_LIMIT_PROBLEM}`);
    return limit;
  }

  @Option({ flags: '--cursor <cursor>', description: 'next_cursor of the previous page' })
  parseCursor(value: string): string {
    return value;
  }
}
