import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

export const ScopesMeta = Reflector.createDecorator<string[]>();

/**
 * The route needs a token carrying every listed OAuth scope (`scope` claim). API keys carry no
 * scopes, so a `@Scopes()` route is for OAuth tokens only. Composes with `@RequirePermissions()`:
 * both must pass.
 */
export function Scopes(...scopes: string[]) {
  return applyDecorators(
    ScopesMeta(scopes),
    ApiBearerAuth('bearer'),
    // Either scheme authenticates (OpenAPI: alternatives are separate security entries).
    ApiSecurity('api_key'),
    ApiUnauthorizedResponse({ description: 'Not authenticated' }),
    ApiForbiddenResponse({ description: `Needs the scopes: ${scopes.join(' ')}` }),
  );
}
