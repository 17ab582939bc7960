import { MigrationInterface, QueryRunner } from 'typeorm';

/** Run-time roles (seeded from the policy file) and API keys (stored as SHA-256 digests). */
export class RolesAndApiKeys1764000000003 implements MigrationInterface {
  name = 'RolesAndApiKeys1764000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE roles (
        name text PRIMARY KEY,
        permissions text[] NOT NULL DEFAULT '{}',
        description text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        prefix text NOT NULL,
        digest text NOT NULL UNIQUE,
        roles text[] NOT NULL DEFAULT '{}',
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE api_keys');
    await queryRunner.query('DROP TABLE roles');
  }
}
