import type { EntityManager } from 'typeorm';
import type { RevocationEntry } from './revocation-index';

/** What a revocation implied elsewhere, found inside its transaction. */
export interface CascadeOutcome {
  /** Further revocations to write with it (a subject's parents, by jti). */
  entries?: RevocationEntry[];
  /** For a jti revocation: the covered token's real expiry, when the cascade knows it. */
  expiresAt?: number;
  /** Refresh tokens revoked along with it. */
  refreshTokens?: number;
}

/**
 * Something a revocation implies in a table another module owns: a parent's children (the
 * parent registry), a subject's refresh tokens. Registered by the owning module with
 * `RevocationsService.cascade()`; run inside the revocation's transaction, so the revocation and
 * everything it implies commit together or not at all (a crash in between leaves nothing live).
 */
export type RevocationCascade = (
  manager: EntityManager,
  revoked: RevocationEntry,
) => Promise<CascadeOutcome | void>;
