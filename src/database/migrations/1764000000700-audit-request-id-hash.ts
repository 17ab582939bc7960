import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Audit events are looked up by request id only for equality (`request_id=` on the listing and
 * the export). Request ids are random (UUIDs, or whatever a proxy sent), so a B-tree took each
 * new row at a random leaf: a third of the database's work per stored event. A hash index finds
 * them as well for equality and costs far less to insert into.
 */
export class AuditRequestIdHash1764000000700 implements MigrationInterface {
  name = 'AuditRequestIdHash1764000000700';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX audit_events_request_id');
    await queryRunner.query(
      'CREATE INDEX audit_events_request_id ON audit_events USING hash (request_id)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX audit_events_request_id');
    await queryRunner.query('CREATE INDEX audit_events_request_id ON audit_events (request_id)');
  }
}
