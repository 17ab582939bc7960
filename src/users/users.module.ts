import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RefreshTokensModule } from '../refresh-tokens/refresh-tokens.module';
import { RevocationModule } from '../revocation/revocation.module';
import { LoginAttemptEntity } from './login-attempt.entity';
import { LoginThrottle } from './login-throttle';
import { UserEntity } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

/** People: accounts, password verification with lockout, `/admin/users`. Tokens are auth's job. */
@Module({
  // Refresh tokens: their revocation cascade (a user's sessions end with the user's tokens).
  imports: [
    TypeOrmModule.forFeature([UserEntity, LoginAttemptEntity]),
    RefreshTokensModule,
    RevocationModule,
  ],
  controllers: [UsersController],
  providers: [UsersService, LoginThrottle],
  exports: [UsersService],
})
export class UsersModule {}
