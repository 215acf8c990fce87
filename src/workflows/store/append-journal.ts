import { sql, type Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import { fence, leaseLost } from './fence.ts';
import { IsolatedFailure } from './write-batcher.ts';
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
    let inserted = 0;
    let from = 0;
    if (flags.name === 'postgres' && rows.length > 0) {
      // Fence and first insert in one statement: one round trip per step instead of two.
      const first = rows.slice(0, ROWS_PER_INSERT);
      const r = await fencedInsertPostgres(trx, first, fenced);
      if (!r.fenced) throw new IsolatedFailure(await leaseLost(trx, ns, runId, epoch));
      inserted = r.inserted;
      from = first.length;
    } else {
      await fence(trx, ns, runId, epoch, now);
    }
    for (let i = from; i < rows.length; i += ROWS_PER_INSERT) {
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

/**
 * PostgreSQL: the fence (`update aios_wf_runs ... where epoch = $epoch`, which takes the run's
 * row lock first, as `fence` does) and the insert-or-keep of the entries in one statement, through
 * data-modifying CTEs; the insert happens only if the fence matched.
 */
async function fencedInsertPostgres(trx: Kysely<any>, rows: readonly JournalRow[], fenced: { ns: string; runId: string; epoch: number; now: number }): Promise<{ fenced: boolean; inserted: number }> {
  const { ns, runId, epoch, now } = fenced;
  const values = sql.join(
    rows.map((r) => sql`(${r.ns}::text, ${r.run_id}::text, ${r.seq}::integer, ${r.kind}::text, ${r.name}::text, ${r.status}::text, ${r.result}::jsonb, ${r.error}::jsonb, ${r.created_at}::bigint)`),
  );
  const { rows: out } = await sql<{ fenced: number; inserted: number }>`
    with f as (
      update aios_wf_runs set updated_at = ${now} where ns = ${ns} and id = ${runId} and epoch = ${epoch} returning 1
    ), i as (
      insert into aios_wf_journal (ns, run_id, seq, kind, name, status, result, error, created_at)
      select v.* from (values ${values}) as v(ns, run_id, seq, kind, name, status, result, error, created_at)
      where exists (select 1 from f)
      on conflict (ns, run_id, seq) do nothing
      returning 1
    )
    select (select count(*) from f)::integer as fenced, (select count(*) from i)::integer as inserted`.execute(trx);
  return { fenced: out[0].fenced > 0, inserted: out[0].inserted };
}
