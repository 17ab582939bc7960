import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { AuthenticatedRequest } from '../../access/principal';
import { InvalidTokenError, NotAuthenticatedError } from '../../common/errors';
import {
  REQUEST_AUTHENTICATORS,
  type PresentedCredentials,
  type RequestAuthenticator,
} from '../authenticators/request-authenticator';
import { RouteRules } from '../route-rules';
import { VerifiedTokenCache } from '../verified-token-cache';

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
    private readonly verified: VerifiedTokenCache,
    @Inject(REQUEST_AUTHENTICATORS) private readonly authenticators: RequestAuthenticator[],
  ) {}

  /**
   * Synchronous while every authenticator answers synchronously (a cached token, an API key, no
   * credential): a promise only once one has to wait (a signature checked, a trusted issuer's
   * JWKS). Nest awaits only what is a promise, so a request whose token is cached takes no
   * microtask turn here.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const rule = this.rules.of(context);
    request.routeRule = rule;
    if (rule.kind === 'public') return true;
    return this.walk(request, { bearer: this.bearerToken(request) }, 0);
  }

  /**
   * RFC 6750 §2.1: the credential is one b64token (`Bearer <t> <t>` is not a credential). A token
   * verified before is that very string, so its ~700 characters are not scanned again (a
   * character-class regex over them was 1.6% of a guarded request's CPU, profiled).
   */
  private bearerToken(request: AuthenticatedRequest): string | undefined {
    const authorization = request.headers.authorization;
    if (typeof authorization !== 'string' || !/^bearer /i.test(authorization)) return undefined;
    const token = authorization.slice(7).trim();
    if (token === '') return undefined;
    if (!this.verified.holds(token) && !B64TOKEN.test(token))
      throw new InvalidTokenError('malformed bearer credential');
    return token;
  }

  /** Asks the authenticators from `from` on; the first principal wins. */
  private walk(
    request: AuthenticatedRequest,
    credentials: PresentedCredentials,
    from: number,
  ): boolean | Promise<boolean> {
    for (let i = from; i < this.authenticators.length; i++) {
      const answer = this.authenticators[i].authenticate(request, credentials);
      if (answer instanceof Promise) {
        return answer.then((principal) => {
          if (!principal) return this.walk(request, credentials, i + 1);
          request.user = principal;
          return true;
        });
      }
      if (answer) {
        request.user = answer;
        return true;
      }
    }
    if (credentials.bearer !== undefined)
      throw new InvalidTokenError('no authenticator accepts it');
    throw new NotAuthenticatedError();
  }
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
