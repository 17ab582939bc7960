import { MigrationInterface, QueryRunner } from 'typeorm';

export class Audit1764000000020 implements MigrationInterface {
  name = 'Audit1764000000020';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        action text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
        actor text,
        actor_method text,
        target text,
        ip text,
        details jsonb NOT NULL DEFAULT '{}'
      )`);
    await queryRunner.query('CREATE INDEX audit_events_at ON audit_events (at)');
    await queryRunner.query('CREATE INDEX audit_events_action ON audit_events (action, id)');
    await queryRunner.query('CREATE INDEX audit_events_actor ON audit_events (actor, id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_events');
  }
}
