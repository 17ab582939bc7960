import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit events a writer could not store (PostgreSQL down) are spilled to a file and appended once
 * it answers. Each file's id is recorded here in the transaction that appends its events, so a
 * file replayed once — the process stopped before deleting it — is not appended a second time
 * (as new events: the chain would verify, with every event in it twice).
 */
export class AuditSpillReplays1764000000900 implements MigrationInterface {
  name = 'AuditSpillReplays1764000000900';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE audit_spill_replays (
         id text PRIMARY KEY,
         events integer NOT NULL,
         replayed_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_spill_replays');
  }
}
