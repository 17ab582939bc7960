import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Requests of one principal to one endpoint on one UTC day. */
@Entity('usage_counters')
export class UsageCounterEntity {
  @PrimaryColumn('text')
  subject: string;

  @PrimaryColumn('text')
  endpoint: string;

  @PrimaryColumn('date')
  day: string;

  @Column('bigint')
  requests: string;

  @Column('timestamptz', { name: 'last_request_at' })
  lastRequestAt: Date;
}
