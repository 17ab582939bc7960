import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure';

/**
 * One security-relevant event: who (actor) did what (action) to what (target), with what
 * outcome, from where. Never holds a secret, a password or a token.
 */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column('timestamptz', { default: () => 'now()' })
  at: Date;

  @Column('text')
  action: string;

  @Column('text')
  outcome: AuditOutcome;

  @Column('text', { nullable: true })
  actor: string | null;

  @Column('text', { name: 'actor_method', nullable: true })
  actorMethod: string | null;

  @Column('text', { nullable: true })
  target: string | null;

  @Column('text', { nullable: true })
  ip: string | null;

  @Column('jsonb', { default: () => "'{}'" })
  details: Record<string, unknown>;
}
