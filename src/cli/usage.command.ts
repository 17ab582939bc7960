import { Command, Option } from 'nest-commander';
import { ValidationFailedError } from '../common/errors';
import { UsageModule } from '../usage/usage.module';
import { UsageGroup, UsageService } from '../usage/usage.service';
import { UsageError } from './cli-errors';
import { withContext } from './cli-context';
import { TesseraCommand } from './tessera-command';

interface UsageOptions {
  subject?: string;
  clientId?: string;
  model?: string;
  since?: string;
  until?: string;
  groupBy?: UsageGroup;
}

@Command({
  name: 'usage',
  description:
    'Print the usage ledger as JSON (the same filters and answer as GET /admin/usage): requests, tokens and cost grouped by day, model or subject.',
})
export class UsageCommand extends TesseraCommand {
  async run(_args: string[], options: UsageOptions): Promise<void> {
    const summary = await withContext([UsageModule], (context) =>
      context
        .get(UsageService)
        .summary({
          subject: options.subject,
          clientId: options.clientId,
          model: options.model,
          since: options.since,
          until: options.until,
          groupBy: options.groupBy ?? 'day',
        })
        .catch((error: unknown) => {
          if (error instanceof ValidationFailedError)
            throw new UsageError(`--${(error.param ?? '').replace('_', '-')}: ${error.message}`);
          throw error;
        }),
    );
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  }

  @Option({ flags: '--subject <subject>', description: 'a principal (token sub or API key id)' })
  parseSubject(value: string): string {
    return value;
  }

  @Option({ flags: '--client-id <id>', description: 'an OAuth client' })
  parseClientId(value: string): string {
    return value;
  }

  @Option({ flags: '--model <model>', description: 'a model id' })
  parseModel(value: string): string {
    return value;
  }

  @Option({ flags: '--since <day>', description: 'first UTC day, YYYY-MM-DD (inclusive)' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <day>', description: 'last UTC day, YYYY-MM-DD (inclusive)' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({ flags: '--group-by <group>', description: 'day (default), model or subject' })
  parseGroupBy(value: string): string {
    if (!['day', 'model', 'subject'].includes(value))
      throw new UsageError('--group-by must be day, model or subject');
    return value;
  }
}
