import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InsufficientPermissionsError, NotAuthenticatedError } from '../../common/errors';
import type { RbacService } from '../../rbac/rbac.service';
import { grantsAll } from '../../rbac/permission-matcher';
import { Public } from '../decorators/public.decorator';
import { RequirePermissions } from '../decorators/require-permissions.decorator';
import { Roles } from '../decorators/roles.decorator';
import { Scopes } from '../decorators/scopes.decorator';
import type { Principal } from '../principal';
import { PermissionsGuard } from './permissions.guard';

const PERMISSIONS: Record<string, string[]> = {
  admin: ['*'],
  operator: ['invoke', 'view_metrics'],
  viewer: ['view_metrics'],
};
const rbac = {
  allows: (roles: string[], required: string[]) =>
    grantsAll(new Set(roles.flatMap((r) => PERMISSIONS[r] ?? [])), required),
} as unknown as RbacService;

@RequirePermissions('view_metrics')
class Routes {
  inherited() {}
  @RequirePermissions('invoke')
  invoke() {}
  @Roles('admin', 'operator')
  staff() {}
  @Scopes('model:invoke')
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
  const sut = new PermissionsGuard(new Reflector(), rbac);
  const routes = Routes.prototype;

  it('lets public routes through without a principal', () => {
    expect(sut.canActivate(context(routes.open, Routes))).toBe(true);
  });

  it('refuses a route with no decision, even for an admin', () => {
    expect(() =>
      sut.canActivate(context(Undecided.prototype.nothing, Undecided, { roles: ['admin'] })),
    ).toThrow(InsufficientPermissionsError);
  });

  it('checks the handler permission over the controller one', () => {
    expect(sut.canActivate(context(routes.invoke, Routes, { roles: ['operator'] }))).toBe(true);
    expect(() => sut.canActivate(context(routes.invoke, Routes, { roles: ['viewer'] }))).toThrow(
      InsufficientPermissionsError,
    );
    expect(sut.canActivate(context(routes.inherited, Routes, { roles: ['viewer'] }))).toBe(true);
  });

  it('needs one of the @Roles and the controller permission', () => {
    expect(sut.canActivate(context(routes.staff, Routes, { roles: ['operator'] }))).toBe(true);
    expect(() => sut.canActivate(context(routes.staff, Routes, { roles: ['viewer'] }))).toThrow(
      InsufficientPermissionsError,
    );
  });

  it('needs every @Scopes scope on the token', () => {
    const scoped = (scopes: string[]) =>
      sut.canActivate(context(routes.scoped, Routes, { roles: ['viewer'], scopes }));
    expect(scoped(['model:invoke'])).toBe(true);
    expect(() => scoped([])).toThrow(InsufficientPermissionsError);
  });

  it('names what was required', () => {
    try {
      sut.canActivate(context(routes.scoped, Routes, { roles: ['viewer'], scopes: [] }));
      throw new Error('not refused');
    } catch (error) {
      expect((error as InsufficientPermissionsError).extra).toEqual({
        required: ['scope:model:invoke'],
      });
    }
  });

  it('refuses a protected route without a principal as not authenticated', () => {
    expect(() => sut.canActivate(context(routes.invoke, Routes))).toThrow(NotAuthenticatedError);
  });
});
