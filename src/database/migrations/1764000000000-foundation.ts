import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764000000000 implements MigrationInterface {
  name = 'Foundation1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        algorithm text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
        public_key_pem text NOT NULL,
        private_key_encrypted text NOT NULL,
        imported boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retiring_at timestamptz,
        retire_after timestamptz,
        retired_at timestamptz
      )`);
    // At most one active key, enforced by the database itself (rotation relies on it).
    await queryRunner.query(
      `CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE status = 'active'`,
    );
    await queryRunner.query(`
      CREATE TABLE clients (
        id text PRIMARY KEY,
        name text,
        secret_digest text NOT NULL,
        roles text[] NOT NULL DEFAULT '{}',
        scopes text[] NOT NULL DEFAULT '{}',
        grant_types text[] NOT NULL DEFAULT '{client_credentials}',
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE clients');
    await queryRunner.query('DROP TABLE signing_keys');
  }
}
