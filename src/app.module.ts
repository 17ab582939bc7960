import { Module } from '@nestjs/common';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { OAuthModule } from './oauth/oauth.module';
import { ClientsModule } from './clients/clients.module';
import { ConsoleModule } from './console/console.module';
import { configRoot } from './config/config-root';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { InferenceModule } from './inference/inference.module';
import { KeysModule } from './keys/keys.module';
import { MetricsModule } from './metrics/metrics.module';
import { ObservabilityModule } from './observability/observability.module';
import { RbacModule } from './rbac/rbac.module';
import { RevocationModule } from './revocation/revocation.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';
import { TokensModule } from './tokens/tokens.module';

@Module({
  imports: [
    configRoot(),
    DatabaseModule,
    RbacModule,
    AuditModule,
    MetricsModule,
    ObservabilityModule,
    KeysModule,
    RevocationModule,
    ClientsModule,
    UsersModule,
    AuthModule,
    OAuthModule,
    UsageModule,
    TokensModule,
    InferenceModule,
    HealthModule,
    ConsoleModule,
  ],
})
export class AppModule {}
