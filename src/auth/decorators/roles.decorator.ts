import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

export const RolesMeta = Reflector.createDecorator<string[]>();

/**
 * The route needs a principal holding at least one of the listed roles (the NestJS docs'
 * `@Roles()`). Prefer `@RequirePermissions()`: roles are renamed, permissions are stable.
 * Metadata first, then the Swagger decoration, so the document always states the guard's rule.
 */
export function Roles(...roles: string[]) {
  return applyDecorators(
    RolesMeta(roles),
    ApiBearerAuth('bearer'),
    // Either scheme authenticates (OpenAPI: alternatives are separate security entries).
    ApiSecurity('api_key'),
    ApiUnauthorizedResponse({ description: 'Not authenticated' }),
    ApiForbiddenResponse({ description: `Needs one of the roles: ${roles.join(', ')}` }),
  );
}
