import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's usage ledger: per principal, client, model and UTC day, the requests, prompt and
 * completion tokens and their cost (USD, priced by the policy's `gateway.prices`). Written in
 * batches (one upsert a second per replica); read by `GET /v1/usage` (the caller's own rows) and
 * `GET /admin/usage` (filtered, grouped by day, model or subject).
 */
export class UsageLedger1764000000600 implements MigrationInterface {
  name = 'UsageLedger1764000000600';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE usage_ledger (
        subject text NOT NULL,
        client_id text NOT NULL DEFAULT '',
        model text NOT NULL,
        day date NOT NULL,
        requests bigint NOT NULL DEFAULT 0,
        prompt_tokens bigint NOT NULL DEFAULT 0,
        completion_tokens bigint NOT NULL DEFAULT 0,
        cost_usd numeric(24, 9) NOT NULL DEFAULT 0,
        PRIMARY KEY (subject, client_id, model, day)
      )`);
    await queryRunner.query('CREATE INDEX usage_ledger_day ON usage_ledger (day)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE usage_ledger');
  }
}
