import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An OAuth client. The secret is kept only as a SHA-256 digest (it is high-entropy). */
@Entity('clients')
export class ClientEntity {
  @PrimaryColumn('text')
  id: string;

  @Column('text', { nullable: true })
  name: string | null;

  @Column('text', { name: 'secret_digest' })
  secretDigest: string;

  @Column('text', { array: true, default: () => "'{}'" })
  roles: string[];

  /** The scopes this client may request; a request without `scope` gets all of them. */
  @Column('text', { array: true, default: () => "'{}'" })
  scopes: string[];

  @Column('text', { name: 'grant_types', array: true, default: () => "'{client_credentials}'" })
  grantTypes: string[];

  @Column('boolean', { default: false })
  disabled: boolean;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' })
  updatedAt: Date;

  /** Gateway narrowing (see usage-limits.ts): models (globs) and own limits; null: none. */
  @Column('text', { array: true, nullable: true })
  models: string[] | null;

  @Column('text', { name: 'rate_limit', nullable: true })
  rateLimit: string | null;

  @Column('text', { name: 'token_limit', nullable: true })
  tokenLimit: string | null;

  @Column('text', { nullable: true })
  budget: string | null;
}
