import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { SharedDb } from '../../storage/index.ts';
import type { AuditRecord } from './audit-record.ts';
import { appendRecordsIn, chain, type AuditDraft } from './append-records.ts';
import { recordToRow, type AuditTables } from './audit-rows.ts';
import { hashPayload } from './canonical.ts';

/**
 * An audit record written inside another capability's transaction, so that it commits with the
 * data or not at all: one record per append request, in the event log's group commit. The shape
 * matches the event log's `CommitHook` (structurally: governance does not import events).
 */
export interface InTransactionAudit {
  readonly hook: {
    sqlite(db: BetterSqlite3.Database, positions: readonly unknown[]): void;
    postgres(trx: SharedDb, positions: readonly unknown[]): Promise<void>;
  };
  /** The record, once the transaction that wrote it has committed (the caller says so). */
  committed(): AuditRecord;
}

interface SqliteStatements {
  readonly lock: BetterSqlite3.Statement;
  readonly head: BetterSqlite3.Statement;
  readonly insert: BetterSqlite3.Statement;
  readonly move: BetterSqlite3.Statement;
}

const COLUMNS = ['seq', 'time', 'ns', 'actor_type', 'actor_id', 'auth_method', 'key_id', 'action', 'resource', 'outcome', 'error', 'request_id', 'trace_id', 'lineage_id', 'input_hash', 'output_hash', 'decision', 'prev_hash', 'record_hash'] as const;
const statements = new WeakMap<BetterSqlite3.Database, SqliteStatements>();

function prepared(db: BetterSqlite3.Database): SqliteStatements {
  let s = statements.get(db);
  if (!s) {
    s = {
      // The caller's transaction already holds SQLite's write lock; this only mirrors lockHead.
      lock: db.prepare('update aios_audit_head set last_seq = last_seq where id = 1'),
      head: db.prepare('select last_seq, last_hash from aios_audit_head where id = 1'),
      insert: db.prepare(`insert into aios_audit_log (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`),
      move: db.prepare('update aios_audit_head set last_seq = ?, last_hash = ? where id = 1'),
    };
    statements.set(db, s);
  }
  return s;
}

/**
 * Builds the hook for one draft. `output` turns the positions the transaction wrote into what the
 * record's `outputHash` covers. better-sqlite3 transactions are synchronous, so the SQLite variant
 * is written with prepared statements; PostgreSQL shares the trail's own append code.
 */
export function inTransactionAudit(draft: AuditDraft, output: (positions: readonly unknown[]) => unknown, concurrentWriters: boolean): InTransactionAudit {
  let written: AuditRecord | undefined;
  const withOutput = (positions: readonly unknown[]): AuditDraft => ({ ...draft, outputHash: hashPayload(output(positions)) });
  return {
    hook: {
      sqlite(db, positions) {
        const s = prepared(db);
        s.lock.run();
        const head = s.head.get() as { last_seq: number; last_hash: string } | undefined;
        if (!head) throw new AiosError('AIOS_INTERNAL', 'the aios_audit_head row is missing; the audit tables were altered outside AIOS (run "aios audit verify")');
        const [record] = chain(Number(head.last_seq), head.last_hash, [withOutput(positions)]);
        const row = recordToRow(record);
        s.insert.run(...COLUMNS.map((c) => row[c]));
        s.move.run(record.seq, record.recordHash);
        written = record;
      },
      async postgres(trx, positions) {
        [written] = await appendRecordsIn(trx as Kysely<AuditTables>, [withOutput(positions)], concurrentWriters);
      },
    },
    committed() {
      if (!written) throw new AiosError('AIOS_INTERNAL', 'the audit record was not written in the transaction');
      return written;
    },
  };
}
