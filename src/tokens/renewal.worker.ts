import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { renewalConfig } from '../config/configuration';
import { ParentTokensService } from './parent-tokens.service';
import { TokenLifecycleService } from './token-lifecycle.service';
import { every, PeriodicJob } from '../common/periodic';

/**
 * Server-side auto-renewal: every `AUTO_RENEW_WORKER_INTERVAL` seconds, each live parent whose
 * newest child expires within `AUTO_RENEW_THRESHOLD_SECONDS` gets a new child, announced to the
 * parent's SSE streams on every replica. Every replica runs it; row locks with SKIP LOCKED keep
 * one parent from getting two children.
 */
@Injectable()
export class RenewalWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Renewal');
  private job?: PeriodicJob;
  private running?: Promise<number>;

  constructor(
    @Inject(renewalConfig.KEY) private readonly config: ConfigType<typeof renewalConfig>,
    private readonly parents: ParentTokensService,
    private readonly lifecycle: TokenLifecycleService,
  ) {}

  onApplicationBootstrap(): void {
    this.job = every(
      this.config.intervalSeconds * 1000,
      () => this.runOnce(),
      (e) => this.logger.error(`Auto-renewal pass failed: ${e.message}`),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.job?.stop();
    await this.running?.catch(() => undefined);
  }

  /** One pass; a pass still running is not started twice. Returns how many children were minted. */
  runOnce(): Promise<number> {
    this.running ??= this.parents
      .renewDue(this.config.thresholdSeconds, (parent) => this.lifecycle.mintChild(parent))
      .catch((error: Error) => {
        this.logger.error(`Auto-renewal pass failed: ${error.message}`);
        return 0;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
