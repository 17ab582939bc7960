import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { AuthenticatedRequest } from '../../access/principal';
import { InvalidTokenError, NotAuthenticatedError } from '../../common/errors';
import {
  REQUEST_AUTHENTICATORS,
  type PresentedCredentials,
  type RequestAuthenticator,
} from '../authenticators/request-authenticator';
import { RouteRules } from '../route-rules';

/**
 * Global guard #1 (authenticate). Looks up the route's rule (worked out at start by
 * {@link RouteRules}) and leaves it on the request for the guards after it. Every route needs
 * credentials unless it is `@Public()`: the registered authenticators are asked in order (API
 * key, trusted issuer's JWT, Tessera's JWT, `none`) and the first that recognises its kind of
 * credential decides. When none does: a bearer value nobody accepts is an invalid token, no
 * credential at all is "Not authenticated".
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly rules: RouteRules,
    @Inject(REQUEST_AUTHENTICATORS) private readonly authenticators: RequestAuthenticator[],
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const rule = this.rules.of(context);
    request.routeRule = rule;
    if (rule.kind === 'public') return true;
    const credentials: PresentedCredentials = { bearer: bearerToken(request) };
    for (const authenticator of this.authenticators) {
      const principal = await authenticator.authenticate(request, credentials);
      if (principal) {
        request.user = principal;
        return true;
      }
    }
    if (credentials.bearer !== undefined)
      throw new InvalidTokenError('no authenticator accepts it');
    throw new NotAuthenticatedError();
  }
}

function bearerToken(request: AuthenticatedRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return undefined;
  const token = authorization.slice(7).trim();
  return token === '' ? undefined : token;
}
