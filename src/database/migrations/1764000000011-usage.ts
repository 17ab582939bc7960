import { MigrationInterface, QueryRunner } from 'typeorm';

export class Usage1764000000011 implements MigrationInterface {
  name = 'Usage1764000000011';

  async up(queryRunner: QueryRunner): Promise<void> {
    // One row per principal, endpoint and UTC day: `GET /v1/usage` reads only the caller's rows.
    await queryRunner.query(`
      CREATE TABLE usage_counters (
        subject text NOT NULL,
        endpoint text NOT NULL,
        day date NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        last_request_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subject, endpoint, day)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE usage_counters');
  }
}
