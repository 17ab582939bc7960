import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A role and the permissions it grants. Seeded from the policy file, managed at `/admin/roles`. */
@Entity('roles')
export class RoleEntity {
  @PrimaryColumn('text')
  name: string;

  @Column('text', { array: true, default: () => "'{}'" })
  permissions: string[];

  @Column('text', { nullable: true })
  description: string | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' })
  updatedAt: Date;
}
