import { sql } from 'kysely';
import type { Migration } from '../../storage/index.ts';

/**
 * The audit checkpoints as a chain (src/governance/audit/checkpoint.ts): checkpoint `seq` signs
 * the hash of checkpoint seq-1 with its tree size, root and time, so a checkpoint removed from the
 * middle or the start breaks the chain. `seq` is the primary key: of several processes signing
 * at once one insert wins, the others chain onto it, so the chain has one writer at a time.
 * `consistency` is the RFC 6962 consistency proof from the previous checkpoint's tree size, kept
 * so that the entry published to a witness can be sent again as it was.
 * Rows of aios_audit_checkpoints (0004) stay as they are and are still verified, outside the
 * chain; the first checkpoint of the chain covers every record written before it.
 * Append-only like the log, by the trigger function of 0004 on PostgreSQL.
 */
export const m0011AuditCheckpointChain: Migration = {
  version: 11,
  name: 'audit-checkpoint-chain',
  async up(db, flags) {
    await db.schema
      .createTable('aios_audit_checkpoint_chain')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('tree_size', 'bigint', (c) => c.notNull())
      .addColumn('root_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('consistency', 'text', (c) => c.notNull())
      .execute();
    if (flags.name === 'postgres') {
      await sql`create trigger aios_audit_checkpoint_chain_append_only before update or delete on aios_audit_checkpoint_chain for each row execute function aios_audit_append_only()`.execute(db);
      await sql`create trigger aios_audit_checkpoint_chain_no_truncate before truncate on aios_audit_checkpoint_chain for each statement execute function aios_audit_append_only()`.execute(db);
      return;
    }
    await sql`create trigger aios_audit_checkpoint_chain_no_update before update on aios_audit_checkpoint_chain begin select raise(abort, 'aios_audit_checkpoint_chain is append-only'); end`.execute(db);
    await sql`create trigger aios_audit_checkpoint_chain_no_delete before delete on aios_audit_checkpoint_chain begin select raise(abort, 'aios_audit_checkpoint_chain is append-only'); end`.execute(db);
  },
};
