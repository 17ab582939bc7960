import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../access/authenticated.decorator';
import { SyncedViews } from '../database/synced-view';
import { KeysService } from '../keys/keys.service';
import { RevocationIndexService } from '../revocation/revocation-index.service';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly keys: KeysService,
    private readonly revocation: RevocationIndexService,
    private readonly views: SyncedViews,
  ) {}

  /** Liveness: the process answers. Also at `/health/`. */
  @Get()
  live() {
    return { status: 'ok' };
  }

  /**
   * Readiness: the database answers, the signing keys are loaded, the revocation index and every
   * other synced view are in sync.
   */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 2000 }),
      () => {
        const indicator = this.indicators.check('keys');
        return this.keys.isReady
          ? indicator.up()
          : indicator.down({ reason: 'signing keys not loaded' });
      },
      () => {
        const indicator = this.indicators.check('revocation');
        return this.revocation.isSynced
          ? indicator.up(this.revocation.indexStats)
          : indicator.down({ reason: 'revocation index not in sync' });
      },
      () => {
        // Every LISTEN/NOTIFY-synced view (keys, roles, API keys, revocations, …).
        const indicator = this.indicators.check('views');
        const behind = this.views.outOfSync();
        return behind.length
          ? indicator.down({ reason: `not in sync: ${behind.join(', ')}` })
          : indicator.up();
      },
    ]);
  }
}
