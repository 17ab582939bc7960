import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An opaque refresh token, stored as a SHA-256 digest. Tokens descending from one grant share a
 * `family_id`: using a consumed token again revokes the whole family (OAuth 2.0 Security BCP §4.14).
 */
@Entity('refresh_tokens')
export class RefreshTokenEntity {
  @PrimaryColumn('text')
  digest: string;

  @Column('uuid', { name: 'family_id' })
  familyId: string;

  @Column('text')
  subject: string;

  @Column('text', { name: 'client_id', nullable: true })
  clientId: string | null;

  @Column('text', { array: true, default: () => "'{}'" })
  scopes: string[];

  @Column('text', { array: true, default: () => "'{}'" })
  roles: string[];

  /** Extra claims carried into each access token minted from this grant (oid, email, name…). */
  @Column('jsonb', { default: () => "'{}'" })
  claims: Record<string, unknown>;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'consumed_at', nullable: true })
  consumedAt: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;
}
