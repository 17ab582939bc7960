import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { NotAuthenticatedError } from '../common/errors';
import type { AuthenticatedRequest, Principal } from './principal';

/** The authenticated {@link Principal} of the request (set by the authentication guard). */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal => {
    const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!principal) throw new NotAuthenticatedError();
    return principal;
  },
);
