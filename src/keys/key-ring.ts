import type { KeyObject } from 'node:crypto';
import type { PublicJwk } from './key-crypto';

export interface VerificationKey {
  kid: string;
  algorithm: string;
  key: KeyObject;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

/**
 * The in-memory view of the keys: parsed `KeyObject`s by kid (never PEM strings on the hot path)
 * and the JWKS document, rebuilt only when keys change. Replaced whole on reload, so a reader
 * never sees a half-updated ring.
 */
export class KeyRing {
  private readonly byKid: Map<string, VerificationKey>;
  readonly jwks: { keys: PublicJwk[] };

  constructor(
    readonly signing: SigningKey | undefined,
    verification: VerificationKey[],
    jwks: PublicJwk[],
  ) {
    this.byKid = new Map(verification.map((k) => [k.kid, k]));
    this.jwks = { keys: jwks };
  }

  static empty(): KeyRing {
    return new KeyRing(undefined, [], []);
  }

  verificationKey(kid: string): VerificationKey | undefined {
    return this.byKid.get(kid);
  }

  get kids(): string[] {
    return [...this.byKid.keys()];
  }

  get size(): number {
    return this.byKid.size;
  }
}
