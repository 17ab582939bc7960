import { Injectable } from '@nestjs/common';
import type { Principal } from '../access/principal';
import { AuditService } from '../audit/audit.service';
import { ModelNotAllowedError } from '../common/errors';
import type { RequestInfo } from '../common/request-context';
import { compileGlobs } from '../config/policy/gateway-policy';
import { modelsMatcher } from '../config/policy/usage-limits';
import { RbacService } from '../rbac/rbac.service';

type Matcher = (model: string) => boolean;
const NONE: Matcher = () => false;
const ALL: Matcher = () => true;

/**
 * Which models a caller may invoke. Permission `invoke` (or `*`, `invoke:*`) allows every model;
 * `invoke:<glob>` allows the matching ones (`invoke:llama-*`). A client's or an API key's
 * `models` (the `models` claim) narrows what its roles allow. Matchers are compiled once per
 * permission set and per `models` list, not per request.
 */
@Injectable()
export class ModelAccess {
  private readonly byPermissions = new WeakMap<ReadonlySet<string>, Matcher>();
  private readonly byModels = new Map<string, Matcher>();

  constructor(
    private readonly rbac: RbacService,
    private readonly audit: AuditService,
  ) {}

  /** The caller's matcher: roles' `invoke` permissions, narrowed by its `models` claim. */
  matcherFor(principal: Principal): Matcher {
    const permissions = this.rbac.permissionsFor(principal.roles);
    let byRoles = this.byPermissions.get(permissions);
    if (!byRoles) {
      byRoles = compileRolePermissions(permissions);
      this.byPermissions.set(permissions, byRoles);
    }
    const models = principal.claims.models;
    if (!Array.isArray(models)) return byRoles;
    const key = models.join('\u0000');
    let narrowed = this.byModels.get(key);
    if (!narrowed) {
      narrowed = modelsMatcher(models) ?? NONE;
      if (this.byModels.size > 10_000) this.byModels.clear();
      this.byModels.set(key, narrowed);
    }
    const roles = byRoles;
    const own = narrowed;
    return (model) => roles(model) && own(model);
  }

  /** 403 `model_not_allowed` (recorded in the audit trail) unless the caller may invoke `model`. */
  assertAllowed(principal: Principal, model: string, request: RequestInfo): void {
    if (this.matcherFor(principal)(model)) return;
    void this.audit.record({
      request,
      action: 'model.access_denied',
      outcome: 'failure',
      actor: principal.subject,
      actorMethod: principal.method,
      target: model,
      details: { request_id: request.id, client_id: principal.clientId ?? null },
    });
    throw new ModelNotAllowedError(model);
  }
}

function compileRolePermissions(permissions: ReadonlySet<string>): Matcher {
  if (permissions.has('*') || permissions.has('invoke') || permissions.has('invoke:*')) return ALL;
  const globs = [...permissions]
    .filter((p) => p.startsWith('invoke:'))
    .map((p) => p.slice('invoke:'.length));
  return globs.length ? compileGlobs(globs) : NONE;
}
