import { MigrationInterface, QueryRunner } from 'typeorm';

export class Revocations1764000000002 implements MigrationInterface {
  name = 'Revocations1764000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    // One row per revoked jti, subject or client. `expires_at` is when every token the row covers
    // has expired: the purge job deletes the row after it.
    await queryRunner.query(`
      CREATE TABLE revocations (
        kind text NOT NULL CHECK (kind IN ('jti', 'subject', 'client')),
        value text NOT NULL,
        revoked_before timestamptz,
        expires_at timestamptz NOT NULL,
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, value)
      )`);
    await queryRunner.query('CREATE INDEX revocations_expires ON revocations (expires_at)');
    await queryRunner.query(`
      CREATE TABLE parent_tokens (
        jti uuid PRIMARY KEY,
        kid text NOT NULL,
        subject text NOT NULL,
        client_id text,
        scopes text[] NOT NULL DEFAULT '{}',
        roles text[] NOT NULL DEFAULT '{}',
        claims jsonb NOT NULL DEFAULT '{}',
        child_expires_in integer NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        latest_child jsonb,
        latest_child_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX parent_tokens_subject ON parent_tokens (subject)');
    await queryRunner.query('CREATE INDEX parent_tokens_client ON parent_tokens (client_id)');
    // The renewal worker's scan: live parents by the expiry of their latest child.
    await queryRunner.query(
      'CREATE INDEX parent_tokens_renewal ON parent_tokens (latest_child_expires_at) WHERE revoked_at IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE parent_tokens');
    await queryRunner.query('DROP TABLE revocations');
  }
}
