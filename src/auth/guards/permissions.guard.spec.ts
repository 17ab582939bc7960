import { ExecutionContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { InsufficientPermissionsError, NotAuthenticatedError } from '../../common/errors';
import type { RbacService } from '../../rbac/rbac.service';
import { grantsAll } from '../../rbac/permission-matcher';
import { Public, Authenticated } from '../../access/authenticated.decorator';
import { RouteRules } from '../route-rules';
import type { Principal } from '../../access/principal';
import { PermissionsGuard } from './permissions.guard';
import type { RateLimitGuard } from '../../rate-limit/rate-limit.guard';

const PERMISSIONS: Record<string, string[]> = {
  admin: ['*'],
  operator: ['invoke', 'view_metrics'],
  viewer: ['view_metrics'],
};
const rbac = {
  allows: (roles: string[], required: string[]) =>
    grantsAll(new Set(roles.flatMap((r) => PERMISSIONS[r] ?? [])), required),
} as unknown as RbacService;

@Authenticated({ permission: 'view_metrics' })
class Routes {
  inherited() {}
  @Authenticated({ permission: 'invoke' })
  invoke() {}
  @Authenticated({ permission: 'view_metrics', roles: ['admin', 'operator'] })
  staff() {}
  @Authenticated({ permission: 'view_metrics', scopes: ['model:invoke'] })
  scoped() {}
  @Public()
  open() {}
}
class Undecided {
  nothing() {}
}

function context(handler: () => void, controller: object, user?: Partial<Principal>) {
  const request = { user: user && { scopes: [], roles: [], ...user } };
  return {
    getHandler: () => handler,
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

describe('PermissionsGuard', () => {
  const sut = new PermissionsGuard(
    new RouteRules(new Reflector(), {} as DiscoveryService, {} as MetadataScanner),
    rbac,
    // The limit headers of a 403 are the rate-limit guard's business (e2e: gateway headers).
    { reportWithoutCounting: () => Promise.resolve() } as unknown as RateLimitGuard,
  );
  const routes = Routes.prototype;
  /** A refusal is a rejected promise (after the limit headers are set); a pass is `true`. */
  const refusal = (ctx: ExecutionContext) => Promise.resolve(sut.canActivate(ctx));

  it('lets public routes through without a principal', () => {
    expect(sut.canActivate(context(routes.open, Routes))).toBe(true);
  });

  it('refuses a route with no decision, even for an admin', async () => {
    await expect(
      refusal(context(Undecided.prototype.nothing, Undecided, { roles: ['admin'] })),
    ).rejects.toThrow(InsufficientPermissionsError);
  });

  it('checks the handler permission over the controller one', async () => {
    expect(sut.canActivate(context(routes.invoke, Routes, { roles: ['operator'] }))).toBe(true);
    await expect(refusal(context(routes.invoke, Routes, { roles: ['viewer'] }))).rejects.toThrow(
      InsufficientPermissionsError,
    );
    expect(sut.canActivate(context(routes.inherited, Routes, { roles: ['viewer'] }))).toBe(true);
  });

  it("needs one of the rule's roles and its permission", async () => {
    expect(sut.canActivate(context(routes.staff, Routes, { roles: ['operator'] }))).toBe(true);
    await expect(refusal(context(routes.staff, Routes, { roles: ['viewer'] }))).rejects.toThrow(
      InsufficientPermissionsError,
    );
  });

  it('needs every scope of the rule on the token', async () => {
    const scoped = (scopes: string[]) =>
      refusal(context(routes.scoped, Routes, { roles: ['viewer'], scopes }));
    await expect(scoped(['model:invoke'])).resolves.toBe(true);
    await expect(scoped([])).rejects.toThrow(InsufficientPermissionsError);
  });

  it('names what was required', async () => {
    const error = await refusal(
      context(routes.scoped, Routes, { roles: ['viewer'], scopes: [] }),
    ).catch((e: unknown) => e);
    expect((error as InsufficientPermissionsError).extra).toEqual({
      required: ['scope:model:invoke'],
    });
  });

  it('refuses a protected route without a principal as not authenticated', () => {
    expect(() => sut.canActivate(context(routes.invoke, Routes))).toThrow(NotAuthenticatedError);
  });
});
