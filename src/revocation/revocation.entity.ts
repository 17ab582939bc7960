import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A revoked jti, or a subject/client whose tokens issued up to `revoked_before` are revoked (to the
 * millisecond; a whole second, written before millisecond cut-offs, covers all of that second).
 */
@Entity('revocations')
export class RevocationEntity {
  @PrimaryColumn('text')
  kind: 'jti' | 'subject' | 'client';

  @PrimaryColumn('text')
  value: string;

  @Column('timestamptz', { name: 'revoked_before', nullable: true })
  revokedBefore: Date | null;

  /** When every token this row covers has expired; the purge deletes the row after that. */
  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('text', { nullable: true })
  reason: string | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;
}
