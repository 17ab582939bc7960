import { Module } from '@nestjs/common';
import { OAuthModule } from '../oauth/oauth.module';
import { RefreshTokensModule } from '../refresh-tokens/refresh-tokens.module';
import { ConsoleSessionController } from './console-session.controller';
import { ConsoleController } from './console.controller';

/** The operators' web console: its static pages and its cookie-held session. */
@Module({
  imports: [OAuthModule, RefreshTokensModule],
  controllers: [ConsoleSessionController, ConsoleController],
})
export class ConsoleModule {}
