import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Signing keys gain a `next` state: generated and published in the JWKS ahead of time, promoted
 * to `active` by the next soft rotation, so verifiers that cache the JWKS already hold it.
 */
export class KeyPrepublication1764000000030 implements MigrationInterface {
  name = 'KeyPrepublication1764000000030';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_status_check');
    await queryRunner.query(
      `ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_status_check
         CHECK (status IN ('next', 'active', 'retiring', 'retired'))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys ((true)) WHERE status = 'next'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX signing_keys_one_next');
    await queryRunner.query(`UPDATE signing_keys SET status = 'retired' WHERE status = 'next'`);
    await queryRunner.query('ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_status_check');
    await queryRunner.query(
      `ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_status_check
         CHECK (status IN ('active', 'retiring', 'retired'))`,
    );
  }
}
