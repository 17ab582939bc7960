import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An API key. Only its SHA-256 digest is stored; `prefix` is the part shown in listings. */
@Entity('api_keys')
export class ApiKeyEntity {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  name: string;

  /** The first characters of the key (`tsk_live_ab12`), so an operator can recognise it. */
  @Column('text')
  prefix: string;

  @Column('text')
  digest: string;

  @Column('text', { array: true, default: () => "'{}'" })
  roles: string[];

  @Column('text', { name: 'created_by', nullable: true })
  createdBy: string | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt: Date | null;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;

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
