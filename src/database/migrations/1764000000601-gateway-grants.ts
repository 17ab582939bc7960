import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Clients and API keys may narrow what their roles allow at the gateway: the models they may
 * invoke (ids or globs) and their own request, token and budget limits (`100/minute`,
 * `20000/day`, `5/month`). NULL: no narrowing. Client tokens carry them as claims.
 */
export class GatewayGrants1764000000601 implements MigrationInterface {
  name = 'GatewayGrants1764000000601';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['clients', 'api_keys']) {
      await queryRunner.query(`
        ALTER TABLE ${table}
          ADD COLUMN models text[],
          ADD COLUMN rate_limit text,
          ADD COLUMN token_limit text,
          ADD COLUMN budget text`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['clients', 'api_keys']) {
      await queryRunner.query(`
        ALTER TABLE ${table}
          DROP COLUMN models, DROP COLUMN rate_limit, DROP COLUMN token_limit, DROP COLUMN budget`);
    }
  }
}
