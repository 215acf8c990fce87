import type { Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import { fence } from './fence.ts';
import { journalColumns, type JournalRow } from './run-rows.ts';

/** 500 rows x 9 columns stays well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_INSERT = 500;

/**
 * Records journal entries inside `trx` (the write batcher's transaction): fence, `insert ... on conflict (ns, run_id, seq)
 * do nothing`, read back what is stored at those seqs, then the caller's `also(trx)`. Insert-
 * ignore plus read-back makes recording idempotent (DBOS's operation_outputs): if a seq is
 * already stored, by an earlier attempt whose commit the caller never saw, the stored entry wins
 * and is what the caller gets. `also` is skipped when every entry was already stored, since the
 * transaction that stored them committed its own side effects; a call with no entries runs it.
 * The fence comes first so that its row lock is the first lock taken, before any lock `also`
 * takes (event partitions, the audit head): one lock order, no deadlock with the event log.
 */
export async function appendJournal(
  trx: Kysely<any>,
  flags: DialectFlags,
  rows: readonly JournalRow[],
  fenced: { ns: string; runId: string; epoch: number; now: number },
  also?: (trx: Kysely<any>) => Promise<void>,
): Promise<JournalRow[]> {
  const { ns, runId, epoch, now } = fenced;
  {
    await fence(trx, ns, runId, epoch, now);
    let inserted = 0;
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const r = await trx
        .insertInto('aios_wf_journal')
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .onConflict((oc) => oc.columns(['ns', 'run_id', 'seq']).doNothing())
        .executeTakeFirst();
      inserted += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    // Everything inserted: what is stored is what was given, no read-back needed.
    let stored: JournalRow[] = inserted === rows.length ? [...rows] : [];
    if (rows.length && inserted !== rows.length) {
      const seqs = new Set(rows.map((r) => r.seq));
      // A range, not `seq in (...)`: one bound pair whatever the batch size.
      const found = (await trx
        .selectFrom('aios_wf_journal')
        .select(journalColumns(flags))
        .where('ns', '=', ns)
        .where('run_id', '=', runId)
        .where('seq', '>=', Math.min(...seqs))
        .where('seq', '<=', Math.max(...seqs))
        .orderBy('seq')
        .execute()) as JournalRow[];
      stored = found.filter((r) => seqs.has(Number(r.seq)));
    }
    if (also && (rows.length === 0 || inserted > 0)) await also(trx);
    return stored;
  }
}
