import { MigrationInterface, QueryRunner } from 'typeorm';

export class RefreshTokens1764000000001 implements MigrationInterface {
  name = 'RefreshTokens1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE refresh_tokens (
        digest text PRIMARY KEY,
        family_id uuid NOT NULL,
        subject text NOT NULL,
        client_id text,
        scopes text[] NOT NULL DEFAULT '{}',
        roles text[] NOT NULL DEFAULT '{}',
        claims jsonb NOT NULL DEFAULT '{}',
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)');
    await queryRunner.query('CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject)');
    await queryRunner.query('CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE refresh_tokens');
  }
}
