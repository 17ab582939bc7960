import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A parent token (never its text): what its children carry, when it expires, whether it is
 * revoked, and the claims of its newest child (re-signed on demand, so no bearer token is stored).
 */
@Entity('parent_tokens')
export class ParentTokenEntity {
  @PrimaryColumn('uuid')
  jti: string;

  /** The key that signed the parent: once it no longer verifies (hard rotation), no more children. */
  @Column('text')
  kid: string;

  @Column('text')
  subject: string;

  @Column('text', { name: 'client_id', nullable: true })
  clientId: string | null;

  @Column('text', { array: true, default: () => "'{}'" })
  scopes: string[];

  @Column('text', { array: true, default: () => "'{}'" })
  roles: string[];

  /** Extra claims carried into every child (network, rate_limit…). */
  @Column('jsonb', { default: () => "'{}'" })
  claims: Record<string, unknown>;

  @Column('integer', { name: 'child_expires_in' })
  childExpiresIn: number;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Column('jsonb', { name: 'latest_child', nullable: true })
  latestChild: Record<string, unknown> | null;

  @Column('timestamptz', { name: 'latest_child_expires_at', nullable: true })
  latestChildExpiresAt: Date | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;
}
