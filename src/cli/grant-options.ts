import { Option } from 'nest-commander';
import { TesseraCommand } from './tessera-command';

/** What a client or an API key may do at the gateway, as given on the command line. */
export interface GrantOptions {
  models?: string[];
  rateLimit?: string;
  tokenLimit?: string;
  budget?: string;
}

/**
 * Base of the commands that create a caller of the gateway (`clients create`, `api-keys
 * create`): the four options of its grant, declared once, and the grant as the services take it.
 */
export abstract class GrantingCommand extends TesseraCommand {
  protected grantOf(options: GrantOptions) {
    return {
      models: options.models,
      rate_limit: options.rateLimit,
      token_limit: options.tokenLimit,
      budget: options.budget,
    };
  }

  @Option({
    flags: '--models <globs>',
    description: 'models it may invoke: ids or globs, comma-separated',
  })
  parseModels(value: string): string[] {
    return value
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
  }

  @Option({ flags: '--rate-limit <limit>', description: 'its own request limit, e.g. 100/minute' })
  parseRateLimit(value: string): string {
    return value;
  }

  @Option({ flags: '--token-limit <limit>', description: 'tokens per window, e.g. 20000/day' })
  parseTokenLimit(value: string): string {
    return value;
  }

  @Option({ flags: '--budget <limit>', description: 'US dollars per window, e.g. 5/month' })
  parseBudget(value: string): string {
    return value;
  }
}
