import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A failed-login counter (`account:<lower-case email>` or `ip:<address>`), in PostgreSQL so that
 * every replica counts the same attempts. Written only by {@link LoginThrottle}.
 */
@Entity('login_attempts')
export class LoginAttemptEntity {
  @PrimaryColumn('text')
  key: string;

  @Column('integer')
  failures: number;

  @Column('timestamptz', { name: 'window_started' })
  windowStarted: Date;

  @Column('timestamptz', { name: 'locked_until', nullable: true })
  lockedUntil: Date | null;
}
