import type { Kysely, Transaction } from 'kysely';
import { AiosError } from '../../core/index.ts';
import { translateDbError, type Database } from '../../storage/index.ts';
import type { AuditRecord } from './audit-record.ts';
import { recordToRow, type AuditDb, type AuditHeadRow, type AuditTables } from './audit-rows.ts';
import { recordHash } from './canonical.ts';

/** A record before it has a place in the chain. */
export type AuditDraft = Omit<AuditRecord, 'seq' | 'prevHash' | 'recordHash'>;

/** 500 rows x 19 columns stays well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_INSERT = 500;

/**
 * Appends `drafts` as the next records of the one chain, in one transaction: lock the head row,
 * number the drafts head+1..., chain their hashes, insert them, move the head. The head row is
 * the chain's lock: of several writers (processes on PostgreSQL) exactly one holds it at a time,
 * so seqs have no gaps and every prev_hash is its predecessor's hash. Hashing a batch of 500
 * takes well under a millisecond, so doing it while holding the lock costs nothing measurable.
 */
export async function appendRecords(database: Database, drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
  try {
    return await (database.db as AuditDb).transaction().execute((trx) => appendRecordsIn(trx, drafts, database.flags.concurrentWriters));
  } catch (e) {
    throw translateDbError(e);
  }
}

/** The same, inside a transaction the caller holds (the event log's, for an append's record). */
export async function appendRecordsIn(trx: Transaction<AuditTables> | Kysely<AuditTables>, drafts: readonly AuditDraft[], concurrentWriters: boolean): Promise<AuditRecord[]> {
  const head = await lockHead(trx, concurrentWriters);
  const records = chain(Number(head.last_seq), head.last_hash, drafts);
  for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
    await trx.insertInto('aios_audit_log').values(records.slice(i, i + ROWS_PER_INSERT).map(recordToRow)).execute();
  }
  const last = records[records.length - 1];
  if (last) await trx.updateTable('aios_audit_head').set({ last_seq: last.seq, last_hash: last.recordHash }).where('id', '=', 1).execute();
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

async function lockHead(trx: Transaction<AuditTables> | Kysely<AuditTables>, concurrentWriters: boolean): Promise<AuditHeadRow> {
  let q = trx.selectFrom('aios_audit_head').selectAll().where('id', '=', 1);
  if (concurrentWriters) {
    // PostgreSQL: other writers block here until this transaction ends.
    q = q.forUpdate();
  } else {
    // SQLite: a write as the first statement takes the database's write lock at once (what BEGIN
    // IMMEDIATE does), instead of upgrading a read lock later, which can fail with SQLITE_BUSY.
    await trx.updateTable('aios_audit_head').set((eb) => ({ last_seq: eb.ref('last_seq') })).where('id', '=', 1).execute();
  }
  const head = await q.executeTakeFirst();
  if (!head) throw new AiosError('AIOS_INTERNAL', 'the aios_audit_head row is missing; the audit tables were altered outside AIOS (run "aios audit verify")');
  return head;
}
