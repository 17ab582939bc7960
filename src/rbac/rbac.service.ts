import { Injectable } from '@nestjs/common';
import { grantsAll } from './permission-matcher';

/** Built-in roles until the policy file (RBAC issue) makes them declarative. */
export const BUILT_IN_ROLES: Record<string, string[]> = {
  admin: ['*'],
  operator: ['invoke', 'view_metrics'],
  viewer: ['view_metrics'],
};

export const DEFAULT_ROLE = 'operator';

/**
 * Every permission name the service checks. README lists them; the route snapshot test
 * fails if a route asks for a permission missing here.
 */
export const KNOWN_PERMISSIONS = [
  'invoke',
  'view_metrics',
  'keys:read',
  'keys:rotate',
  'clients:manage',
  'tokens:issue',
  'tokens:revoke',
  'tokens:introspect',
  'users:manage',
  'audit:read',
] as const;

/** Resolves roles to permissions. Role sets are compiled once and cached, never per request. */
@Injectable()
export class RbacService {
  private readonly roles = new Map<string, string[]>(Object.entries(BUILT_IN_ROLES));
  private readonly cache = new Map<string, ReadonlySet<string>>();

  get defaultRole(): string {
    return DEFAULT_ROLE;
  }

  roleNames(): string[] {
    return [...this.roles.keys()];
  }

  isKnownRole(role: string): boolean {
    return this.roles.has(role);
  }

  /** The union of the permissions of `roles`; unknown roles grant nothing. */
  permissionsFor(roles: readonly string[]): ReadonlySet<string> {
    const key = roles.join('\u0000');
    let permissions = this.cache.get(key);
    if (!permissions) {
      permissions = new Set(roles.flatMap((role) => this.roles.get(role) ?? []));
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, permissions);
    }
    return permissions;
  }

  allows(roles: readonly string[], required: readonly string[]): boolean {
    return grantsAll(this.permissionsFor(roles), required);
  }
}
