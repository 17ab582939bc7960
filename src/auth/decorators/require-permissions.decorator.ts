import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

export const PermissionsMeta = Reflector.createDecorator<string[]>();

/**
 * The route needs an authenticated principal whose roles grant every listed permission.
 * Composed so the rule (guard metadata) and its documentation (Swagger bearer scheme and
 * 401/403 responses) can never disagree; an empty list means "any authenticated principal".
 */
export function RequirePermissions(...permissions: string[]) {
  return applyDecorators(
    PermissionsMeta(permissions),
    ApiBearerAuth('bearer'),
    // Either scheme authenticates (OpenAPI: alternatives are separate security entries).
    ApiSecurity('api_key'),
    ApiUnauthorizedResponse({
      description: 'Not authenticated, or the token is invalid, expired or revoked',
    }),
    ...(permissions.length
      ? [ApiForbiddenResponse({ description: `Needs permission: ${permissions.join(', ')}` })]
      : []),
  );
}

/** Any authenticated principal may call the route (an explicit decision, not a default). */
export const Authenticated = () => RequirePermissions();

/** Shorthand: `@Auth('invoke')` is `@RequirePermissions('invoke')`; `@Auth()` any authenticated caller. */
export const Auth = (...permissions: string[]) => RequirePermissions(...permissions);
