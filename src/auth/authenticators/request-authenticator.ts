import type { AuthenticatedRequest, Principal } from '../../access/principal';

/** What the guard extracts once and hands to every authenticator. */
export interface PresentedCredentials {
  /** The `Authorization: Bearer` value, when there is one. */
  bearer?: string;
}

/**
 * One way a request can authenticate (API key, Tessera's JWT, a trusted issuer's JWT, `none`).
 * The authentication guard asks each registered authenticator in order:
 * - `undefined`: the request carries no credential of this kind; the next one is asked;
 * - a {@link Principal}: authenticated, the walk stops;
 * - a thrown DomainError: a credential of this kind that fails (an unknown API key, a forged
 *   token) is refused at once, never passed on to a weaker way.
 *
 * To add a way (mTLS, SAML, a custom header): implement this, then add the class to
 * `AUTHENTICATOR_ORDER` in auth.module.ts at the place it should be tried.
 */
export interface RequestAuthenticator {
  authenticate(
    request: AuthenticatedRequest,
    credentials: PresentedCredentials,
  ): Principal | undefined | Promise<Principal | undefined>;
}

/** Injection token of the ordered list of authenticators the guard walks. */
export const REQUEST_AUTHENTICATORS = Symbol('REQUEST_AUTHENTICATORS');
