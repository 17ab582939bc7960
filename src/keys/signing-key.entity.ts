import { Column, Entity, PrimaryColumn } from 'typeorm';

export type KeyStatus = 'next' | 'active' | 'retiring' | 'retired';

/**
 * A signing key. `next` is published ahead of time and becomes active at the next soft
 * rotation (at most one), `active` signs (exactly one, enforced by a partial unique index), `retiring`
 * still verifies until `retire_after` (rotation time + the longest token lifetime), `retired`
 * verifies nothing. The private key is stored encrypted (AES-256-GCM under KEY_ENCRYPTION_KEY).
 */
@Entity('signing_keys')
export class SigningKeyEntity {
  @PrimaryColumn('text')
  kid: string;

  @Column('text')
  algorithm: string;

  @Column('text')
  status: KeyStatus;

  @Column('text', { name: 'public_key_pem' })
  publicKeyPem: string;

  @Column('text', { name: 'private_key_encrypted' })
  privateKeyEncrypted: string;

  @Column('boolean', { default: false })
  imported: boolean;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'activated_at', nullable: true })
  activatedAt: Date | null;

  @Column('timestamptz', { name: 'retiring_at', nullable: true })
  retiringAt: Date | null;

  @Column('timestamptz', { name: 'retire_after', nullable: true })
  retireAfter: Date | null;

  @Column('timestamptz', { name: 'retired_at', nullable: true })
  retiredAt: Date | null;
}
