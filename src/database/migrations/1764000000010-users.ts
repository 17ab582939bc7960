import { MigrationInterface, QueryRunner } from 'typeorm';

export class Users1764000000010 implements MigrationInterface {
  name = 'Users1764000000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        oid uuid PRIMARY KEY,
        email text NOT NULL,
        name text,
        password_hash text NOT NULL,
        roles text[] NOT NULL DEFAULT '{}',
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Case-insensitive uniqueness without the citext extension (not always installable).
    await queryRunner.query('CREATE UNIQUE INDEX users_email_lower ON users (lower(email))');
    // Failed-login counters shared by every replica: `account:<email>` and `ip:<address>`.
    await queryRunner.query(`
      CREATE TABLE login_attempts (
        key text PRIMARY KEY,
        failures integer NOT NULL,
        window_started timestamptz NOT NULL,
        locked_until timestamptz
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE login_attempts');
    await queryRunner.query('DROP TABLE users');
  }
}
