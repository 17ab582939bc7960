import { MigrationInterface, QueryRunner } from 'typeorm';
import { eventHash, GENESIS_HASH } from '../../audit/audit-chain';

const BATCH = 5000;

/**
 * The audit trail becomes a hash chain (see src/audit/audit-chain.ts): request id and user agent
 * columns, `prev_hash`/`hash` on every event, ids numbered without gaps (assigned by the writer
 * under the chain-head lock, no longer by a sequence), the chain head and the retention anchors.
 * Existing events are renumbered 1…n in their order and chained.
 */
export class AuditChain1764000000500 implements MigrationInterface {
  name = 'AuditChain1764000000500';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE audit_events
        ADD COLUMN request_id text,
        ADD COLUMN user_agent text,
        ADD COLUMN prev_hash text,
        ADD COLUMN hash text`);
    await queryRunner.query('ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT');
    await queryRunner.query('DROP SEQUENCE IF EXISTS audit_events_id_seq');
    // Renumber 1…n (two steps: the primary key is checked row by row).
    await queryRunner.query('UPDATE audit_events SET id = -id');
    await queryRunner.query(`
      UPDATE audit_events e SET id = n.rn
      FROM (SELECT id, row_number() OVER (ORDER BY id DESC) AS rn FROM audit_events) n
      WHERE e.id = n.id`);
    // The chain covers times at millisecond precision (what JavaScript's Date holds).
    await queryRunner.query("UPDATE audit_events SET at = date_trunc('milliseconds', at)");
    let prev = GENESIS_HASH;
    let last = 0n;
    for (;;) {
      const rows = (await queryRunner.query(
        `SELECT e.id::text AS id, e.at, e.action, e.outcome, e.actor, e.actor_method, e.target,
                e.ip, e.details
         FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT ${BATCH}`,
        [last.toString()],
      )) as Array<{
        id: string;
        at: Date;
        action: string;
        outcome: string;
        actor: string | null;
        actor_method: string | null;
        target: string | null;
        ip: string | null;
        details: unknown;
      }>;
      if (rows.length === 0) break;
      const ids: string[] = [];
      const prevs: string[] = [];
      const hashes: string[] = [];
      for (const row of rows) {
        const at = row.at;
        const hash = eventHash({
          id: row.id,
          at,
          action: row.action,
          outcome: row.outcome,
          actor: row.actor,
          actorMethod: row.actor_method,
          target: row.target,
          ip: row.ip,
          userAgent: null,
          requestId: null,
          details: row.details,
          prevHash: prev,
        });
        ids.push(row.id);
        prevs.push(prev);
        hashes.push(hash);
        prev = hash;
        last = BigInt(row.id);
      }
      await queryRunner.query(
        `UPDATE audit_events e SET prev_hash = u.prev, hash = u.hash
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, prev, hash)
         WHERE e.id = u.id`,
        [ids, prevs, hashes],
      );
    }
    await queryRunner.query(
      'ALTER TABLE audit_events ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL',
    );
    await queryRunner.query('CREATE INDEX audit_events_request_id ON audit_events (request_id)');
    await queryRunner.query(`
      CREATE TABLE audit_chain (
        id smallint PRIMARY KEY CHECK (id = 1),
        last_id bigint NOT NULL,
        hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('INSERT INTO audit_chain (id, last_id, hash) VALUES (1, $1, $2)', [
      last.toString(),
      prev,
    ]);
    await queryRunner.query(`
      CREATE TABLE audit_anchors (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        through_id bigint NOT NULL,
        hash text NOT NULL,
        purged bigint NOT NULL,
        cutoff timestamptz NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE audit_anchors');
    await queryRunner.query('DROP TABLE audit_chain');
    await queryRunner.query('DROP INDEX audit_events_request_id');
    await queryRunner.query(`
      ALTER TABLE audit_events
        DROP COLUMN request_id, DROP COLUMN user_agent, DROP COLUMN prev_hash, DROP COLUMN hash`);
    await queryRunner.query('CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id');
    await queryRunner.query(
      "SELECT setval('audit_events_id_seq', COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)",
    );
    await queryRunner.query(
      "ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')",
    );
  }
}
