import { sql } from 'kysely';
import { AiosError } from '../../core/index.ts';
import { translateDbError, type Database, type Tx } from '../../storage/index.ts';
import type { AuditRecord } from './audit-record.ts';
import { recordToRow, type AuditHeadRow, type AuditLogRow } from './audit-rows.ts';
import { recordHash } from './canonical.ts';

/** A record before it has a place in the chain. */
export type AuditDraft = Omit<AuditRecord, 'seq' | 'prevHash' | 'recordHash'>;

/** 500 rows x 19 columns stays well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_INSERT = 500;

const COLUMNS = ['seq', 'time', 'ns', 'actor_type', 'actor_id', 'auth_method', 'key_id', 'action', 'resource', 'outcome', 'error', 'request_id', 'trace_id', 'lineage_id', 'input_hash', 'output_hash', 'decision', 'prev_hash', 'record_hash'] as const satisfies readonly (keyof AuditLogRow)[];
const COLUMN_LIST = sql.raw(COLUMNS.join(', '));

/**
 * Appends `drafts` as the next records of the one chain, in one transaction: lock the head row,
 * number the drafts head+1..., chain their hashes, insert them, move the head. The head row is
 * the chain's lock: of several writers (processes on PostgreSQL) exactly one holds it at a time,
 * so seqs have no gaps and every prev_hash is its predecessor's hash. Hashing a batch of 500
 * takes well under a millisecond, so doing it while holding the lock costs nothing measurable.
 */
export async function appendRecords(database: Database, drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
  try {
    return await database.transaction((tx) => appendRecordsIn(tx, drafts));
  } catch (e) {
    throw translateDbError(e);
  }
}

/**
 * The same, inside a transaction the caller holds: the group commit's own, or another
 * capability's (an append's record, in the events' transaction). One record, the common case
 * there, is three prepared statements on SQLite.
 */
export async function appendRecordsIn(tx: Tx, drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
  const head = await lockHead(tx);
  const records = chain(Number(head.last_seq), head.last_hash, drafts);
  for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
    const rows = records.slice(i, i + ROWS_PER_INSERT).map(recordToRow);
    await tx.run(sql`insert into aios_audit_log (${COLUMN_LIST}) values ${sql.join(rows.map((r) => sql`(${sql.join(COLUMNS.map((c) => r[c]))})`))}`);
  }
  const last = records[records.length - 1];
  if (last) await tx.run(sql`update aios_audit_head set last_seq = ${last.seq}, last_hash = ${last.recordHash} where id = 1`);
  return records;
}

/** Numbers drafts after the head and links their hashes. */
export function chain(lastSeq: number, lastHash: string, drafts: readonly AuditDraft[]): AuditRecord[] {
  let seq = lastSeq;
  let prevHash = lastHash;
  return drafts.map((d) => {
    seq++;
    const unsealed = { seq, ...d, prevHash };
    const sealed: AuditRecord = { ...unsealed, recordHash: recordHash(unsealed) };
    prevHash = sealed.recordHash;
    return sealed;
  });
}

async function lockHead(tx: Tx): Promise<AuditHeadRow> {
  let head: AuditHeadRow | undefined;
  if (tx.flags.concurrentWriters) {
    // PostgreSQL: other writers block here until this transaction ends.
    [head] = await tx.query<AuditHeadRow>(sql`select id, last_seq, last_hash from aios_audit_head where id = 1 for update`);
  } else {
    // SQLite: a write as the first statement takes the database's write lock at once (what BEGIN
    // IMMEDIATE does), instead of upgrading a read lock later, which can fail with SQLITE_BUSY.
    // In a transaction that already holds the lock it costs one prepared statement.
    await tx.run(sql`update aios_audit_head set last_seq = last_seq where id = 1`);
    [head] = await tx.query<AuditHeadRow>(sql`select id, last_seq, last_hash from aios_audit_head where id = 1`);
  }
  if (!head) throw new AiosError('AIOS_INTERNAL', 'the aios_audit_head row is missing; the audit tables were altered outside AIOS (run "aios audit verify")');
  return head;
}
