import { Audit } from '../audit/audit.decorator';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { NoQueryParameters } from '../common/strict-query';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Authenticated } from '../access/authenticated.decorator';
import { CurrentPrincipal } from '../access/current-principal.decorator';
import type { Principal } from '../access/principal';
import { noteAuditDetails } from '../audit/audit.interceptor';
import { RotateKeysDto } from './dto/rotate-keys.dto';
import { KeyRotation, KeysService, rotationDetails } from './keys.service';

/**
 * An admin's rotation: the retired kids are recorded as `keys.retire` events by the service (with
 * the caller as actor), the states before and after and the retired kids on the `keys.rotate`
 * event the `@Audit` interceptor writes.
 */
async function rotateAudited(
  keys: KeysService,
  dto: RotateKeysDto,
  who: Principal,
  request: FastifyRequest,
): Promise<KeyRotation> {
  const rotation = await keys.rotation(dto.mode ?? 'soft', {
    actor: who.subject,
    actorMethod: who.method,
    request,
  });
  noteAuditDetails(request, rotationDetails(rotation));
  return rotation;
}

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
  list(@Query() _query: NoQueryParameters) {
    return this.keys.list();
  }

  @Post('rotate')
  @HttpCode(200)
  @Authenticated({ permission: 'keys:rotate' })
  @Audit('keys.rotate', { details: rotation })
  @ApiOperation({ summary: 'Rotate the signing key (soft by default, or hard)' })
  async rotate(
    @Body() dto: RotateKeysDto,
    @CurrentPrincipal() who: Principal,
    @Req() request: FastifyRequest,
  ) {
    return (await rotateAudited(this.keys, dto, who, request)).key;
  }

  @Post(':kid/retire')
  @HttpCode(200)
  @Authenticated({ permission: 'keys:rotate' })
  @Audit('keys.retire', { before: 'get', details: () => ({ automatic: false }) })
  @ApiOperation({ summary: 'Retire a non-active key now: its tokens stop verifying' })
  retire(@Param('kid') kid: string) {
    return this.keys.retire(kid);
  }

  /** Not a route: the key before a retirement, for the `keys.retire` event's `before`. */
  get(kid: string) {
    return this.keys.get(kid);
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
  async refresh(
    @Body() dto: RotateKeysDto,
    @CurrentPrincipal() who: Principal,
    @Req() request: FastifyRequest,
  ) {
    const mode = dto.mode ?? 'soft';
    const { key } = await rotateAudited(this.keys, dto, who, request);
    return {
      rotated: true,
      mode,
      kid: key.kid,
      active_kids: this.keys.jwks().keys.map((k) => (k as { kid: string }).kid),
    };
  }
}
