import { sql, type Kysely } from 'kysely';
import type { DialectFlags, SharedDb } from '../../storage/index.ts';
import type { Migration } from '../../storage/index.ts';

/** prev_hash of record 1: there is nothing before it. */
const GENESIS_HASH = '0'.repeat(64);

/**
 * The tamper-evident audit trail (src/governance/audit). Three tables:
 * - aios_audit_log: the hash-chained records, seq 1, 2, 3... assigned by the writer, no gaps;
 * - aios_audit_head: one row, the last seq and record hash; writers lock it, so concurrent
 *   writers (several processes on PostgreSQL) extend one chain;
 * - aios_audit_checkpoints: signed RFC 6962 Merkle roots over the first tree_size records.
 * Triggers refuse UPDATE and DELETE on the log and the checkpoints. They stop mistakes and casual
 * edits; an owner of the database can drop them, which is what the hash chain and the signed
 * checkpoints are for.
 */
export const m0004Audit: Migration = {
  version: 4,
  name: 'audit',
  async up(db, flags) {
    // On SQLite an INTEGER PRIMARY KEY is the rowid itself: no second index for seq.
    const seqType = flags.name === 'sqlite' ? 'integer' : 'bigint';
    await db.schema
      .createTable('aios_audit_log')
      .addColumn('seq', seqType, (c) => c.primaryKey())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('actor_type', 'text', (c) => c.notNull())
      .addColumn('actor_id', 'text', (c) => c.notNull())
      .addColumn('auth_method', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('resource', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('error', 'text')
      // Nullable because AuditInput makes them optional (a system action has no HTTP request).
      .addColumn('request_id', 'text')
      .addColumn('trace_id', 'text')
      .addColumn('lineage_id', 'text')
      .addColumn('input_hash', 'text')
      .addColumn('output_hash', 'text')
      // Canonical JSON kept as text (not jsonb) so that the bytes that were hashed are the bytes stored.
      .addColumn('decision', 'text')
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('record_hash', 'text', (c) => c.notNull())
      .execute();
    const indexes: [string, string[]][] = [
      ['aios_audit_log_ns_seq', ['ns', 'seq']],
      ['aios_audit_log_actor', ['ns', 'actor_id', 'seq']],
      ['aios_audit_log_action', ['ns', 'action', 'seq']],
      ['aios_audit_log_resource', ['ns', 'resource', 'seq']],
      ['aios_audit_log_lineage', ['ns', 'lineage_id']],
      ['aios_audit_log_time', ['ns', 'time']],
    ];
    for (const [name, columns] of indexes) await db.schema.createIndex(name).on('aios_audit_log').columns(columns).execute();

    await db.schema
      .createTable('aios_audit_head')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('last_seq', 'bigint', (c) => c.notNull())
      .addColumn('last_hash', 'text', (c) => c.notNull())
      .addCheckConstraint('aios_audit_head_single_row', sql`id = 1`)
      .execute();
    await db.insertInto('aios_audit_head').values({ id: 1, last_seq: 0, last_hash: GENESIS_HASH }).execute();

    await db.schema
      .createTable('aios_audit_checkpoints')
      .addColumn('tree_size', 'bigint', (c) => c.primaryKey())
      .addColumn('root_hash', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await appendOnly(db, flags, 'aios_audit_log');
    await appendOnly(db, flags, 'aios_audit_checkpoints');
  },
};

async function appendOnly(db: SharedDb, flags: DialectFlags, table: 'aios_audit_log' | 'aios_audit_checkpoints'): Promise<void> {
  // Table names are fixed literals from this file, never input; sql.raw is safe here.
  if (flags.name === 'postgres') {
    await sql`
      create or replace function aios_audit_append_only() returns trigger language plpgsql as $$
      begin
        raise exception '% is append-only', tg_table_name using errcode = '55000';
      end
      $$`.execute(db);
    await sql.raw(`create trigger ${table}_append_only before update or delete on ${table} for each row execute function aios_audit_append_only()`).execute(db);
    // TRUNCATE skips row triggers; refuse it too.
    await sql.raw(`create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function aios_audit_append_only()`).execute(db);
    return;
  }
  for (const op of ['update', 'delete']) {
    await sql.raw(`create trigger ${table}_no_${op} before ${op} on ${table} begin select raise(abort, '${table} is append-only'); end`).execute(db);
  }
}
