import type { Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { runColumns, type RunRow } from './run-rows.ts';

/**
 * Creates a run idempotently by (ns, id): `insert ... on conflict (ns, id) do nothing returning`,
 * and when nothing came back, read the run that is there. Two concurrent creates of one id (two
 * API processes receiving the same Idempotency-Key) both get the same stored run; exactly one
 * sees `created: true`. The insert is tried first because a new id is the common case: one round
 * trip, where select-then-insert would need two and still have to handle the race.
 */
export async function createRun(db: Kysely<WorkflowTables>, flags: DialectFlags, row: RunRow, also?: (trx: Kysely<WorkflowTables>, row: RunRow) => Promise<void>): Promise<{ row: RunRow; created: boolean }> {
  if (also) {
    return db.transaction().execute(async (trx) => {
      const r = await createRun(trx, flags, row);
      if (r.created) await also(trx, r.row);
      return r;
    });
  }
  const inserted = (await db
    .insertInto('aios_wf_runs')
    .values(row)
    .onConflict((oc) => oc.columns(['ns', 'id']).doNothing())
    .returning(runColumns(flags))
    .executeTakeFirst()) as RunRow | undefined;
  if (inserted) return { row: inserted, created: true };
  const existing = (await db.selectFrom('aios_wf_runs').select(runColumns(flags)).where('ns', '=', row.ns).where('id', '=', row.id).executeTakeFirstOrThrow()) as RunRow;
  return { row: existing, created: false };
}
