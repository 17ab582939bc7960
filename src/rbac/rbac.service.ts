import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { policyConfig } from '../config/configuration';
import { grantsAll } from './permission-matcher';

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

/**
 * Resolves roles to permissions, from the policy file's roles. Role sets are compiled once
 * and cached, never per request.
 */
@Injectable()
export class RbacService {
  private readonly roles: Map<string, string[]>;
  private readonly cache = new Map<string, ReadonlySet<string>>();
  readonly defaultRole: string;

  constructor(@Inject(policyConfig.KEY) policy: ConfigType<typeof policyConfig>) {
    this.roles = new Map(policy.roles.map((role) => [role.name, role.permissions]));
    this.defaultRole = policy.defaultRole;
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
