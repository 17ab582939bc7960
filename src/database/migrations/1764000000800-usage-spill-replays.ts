import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage a shutdown could not write (PostgreSQL down) is spilled to a file and added at the next
 * start. Each file's id is recorded here in the transaction that adds its counts, so a file
 * replayed once — the process stopped before deleting it — is not added a second time.
 */
export class UsageSpillReplays1764000000800 implements MigrationInterface {
  name = 'UsageSpillReplays1764000000800';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE usage_spill_replays (
         id text PRIMARY KEY,
         replayed_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE usage_spill_replays');
  }
}
