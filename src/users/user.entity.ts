import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A person who logs in with email and password. `oid` (a UUID) is the token subject and the key
 * handlers partition data by; the email is unique case-insensitively (index on `lower(email)`);
 * the password is stored only as an argon2id hash.
 */
@Entity('users')
export class UserEntity {
  @PrimaryColumn('uuid')
  oid: string;

  @Column('text')
  email: string;

  @Column('text', { nullable: true })
  name: string | null;

  @Column('text', { name: 'password_hash' })
  passwordHash: string;

  @Column('text', { array: true, default: () => "'{}'" })
  roles: string[];

  @Column('boolean', { default: false })
  disabled: boolean;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' })
  updatedAt: Date;
}
