import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

/**
 * What a route asks of its caller, beyond being authenticated. Every list that is given must
 * pass: all `permissions` granted by the caller's roles, at least one of `roles`, every scope in
 * `scopes` on the token. `{}` means any authenticated caller.
 */
export interface AccessRule {
  /** One permission (the common case, as Immich's `@Authenticated({ permission })`). */
  permission?: string;
  permissions?: string[];
  /** At least one of these roles. Prefer permissions: roles are renamed, permissions are stable. */
  roles?: string[];
  /** Every one of these OAuth scopes (`scope` claim). API keys carry none. */
  scopes?: string[];
  /**
   * An OAuth client may also authenticate with its own id and secret (`client_secret_basic` or
   * `client_secret_post`) and become the caller. Only for endpoints a client calls as itself,
   * RFC 7662 §2.1's introspection: a client secret is not a credential for the API.
   */
  clientAuthentication?: boolean;
}

/** The one metadata key of a route's rule: `false` for public, else the rule. */
export const RouteRuleMeta = Reflector.createDecorator<AccessRule | false>();

/**
 * The route needs an authenticated caller meeting `rule`. Composed so that the rule the guards
 * read and the OpenAPI document (security schemes, 401/403 responses) can never disagree: the
 * metadata is written first, then its documentation derived from the same object.
 */
export function Authenticated(rule: AccessRule = {}) {
  const needs = [
    ...(rule.permission ? [rule.permission] : []),
    ...(rule.permissions ?? []),
    ...(rule.roles?.length ? [`one of roles ${rule.roles.join(', ')}`] : []),
    ...(rule.scopes ?? []).map((scope) => `scope ${scope}`),
  ];
  return applyDecorators(
    RouteRuleMeta(rule),
    ApiBearerAuth('bearer'),
    // Either scheme authenticates (OpenAPI: alternatives are separate security entries).
    ApiSecurity('api_key'),
    ApiUnauthorizedResponse({
      description: 'Not authenticated, or the token is invalid, expired or revoked',
    }),
    ...(needs.length ? [ApiForbiddenResponse({ description: `Needs: ${needs.join('; ')}` })] : []),
  );
}

/**
 * Opts a route (or controller) out of authentication: an explicit, visible decision. Every other
 * route is protected by default, and one without any rule is refused.
 */
export const Public = () => RouteRuleMeta(false);
