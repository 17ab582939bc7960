import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../access/authenticated.decorator';
import { RotateKeysDto } from './dto/rotate-keys.dto';
import { KeysService } from './keys.service';

/** What an admin's rotation records, as the scheduler's does (`mode`, `automatic`). */
const rotation = (body: unknown) => ({
  mode: (body as RotateKeysDto | undefined)?.mode ?? 'soft',
  automatic: false,
});

@ApiTags('admin')
@Controller('admin/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Get()
  @Authenticated({ permission: 'keys:read' })
  list() {
    return this.keys.list();
  }

  @Post('rotate')
  @HttpCode(200)
  @Authenticated({ permission: 'keys:rotate' })
  @Audit('keys.rotate', { details: rotation })
  @ApiOperation({ summary: 'Rotate the signing key (soft by default, or hard)' })
  rotate(@Body() dto: RotateKeysDto) {
    return this.keys.rotate(dto.mode ?? 'soft');
  }

  @Post(':kid/retire')
  @HttpCode(200)
  @Authenticated({ permission: 'keys:rotate' })
  @Audit('keys.retire', { details: () => ({ automatic: false }) })
  @ApiOperation({ summary: 'Retire a non-active key now: its tokens stop verifying' })
  retire(@Param('kid') kid: string) {
    return this.keys.retire(kid);
  }
}

/** The capability-token prototype's rotation endpoint. */
@ApiTags('admin')
@Controller('secrets')
export class SecretsController {
  constructor(private readonly keys: KeysService) {}

  @Post('refresh')
  @HttpCode(200)
  @Authenticated({ permission: 'keys:rotate' })
  @Audit('keys.rotate', { details: rotation })
  @ApiOperation({ summary: 'Rotate the signing key: {mode: "soft" | "hard"}' })
  async refresh(@Body() dto: RotateKeysDto) {
    const mode = dto.mode ?? 'soft';
    const key = await this.keys.rotate(mode);
    return {
      rotated: true,
      mode,
      kid: key.kid,
      active_kids: this.keys.jwks().keys.map((k) => (k as { kid: string }).kid),
    };
  }
}
