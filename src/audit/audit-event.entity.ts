import { Column, Entity, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure';

/**
 * One security-relevant event: who (actor) did what (action) to what (target), with what
 * outcome, from where (ip, user agent, request id). Never holds a secret, a password or a token.
 * Events form a hash chain (see audit-chain.ts): `id` is the position in the chain (1, 2, 3…,
 * assigned by the writer), `prev_hash` the hash of the event before, `hash` this event's.
 */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryColumn('bigint')
  id: string;

  @Column('timestamptz')
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

  @Column('text', { name: 'user_agent', nullable: true })
  userAgent: string | null;

  @Column('text', { name: 'request_id', nullable: true })
  requestId: string | null;

  @Column('jsonb', { default: () => "'{}'" })
  details: Record<string, unknown>;

  @Column('text', { name: 'prev_hash' })
  prevHash: string;

  @Column('text')
  hash: string;
}
