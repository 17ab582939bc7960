import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { RevocationModule } from '../revocation/revocation.module';
import { ConsoleSessionController } from './console-session.controller';
import { ConsoleController } from './console.controller';

/** The operators' web console: its static pages and its cookie-held session. */
@Module({
  imports: [AuthModule, RevocationModule],
  controllers: [ConsoleSessionController, ConsoleController],
})
export class ConsoleModule {}
