import type { Kysely } from 'kysely';
import type { WorkflowTables } from '../store/tables.ts';

/**
 * Turns the buffered fire of an overlap 'buffer_one' schedule into a run, once: a
 * compare-and-set on the buffered tick (`... where ns = $ns and id = $id and buffered = $tick`)
 * clears it and records the run id with `start_pending = 1` in one statement, so of two
 * schedulers that both see the previous run finished, one starts the buffered run.
 */
export async function releaseBuffered(db: Kysely<WorkflowTables>, ns: string, id: string, tick: number, runId: string): Promise<boolean> {
  const r = await db
    .updateTable('aios_wf_schedules')
    .set({ buffered: null, last_run_id: runId, start_pending: 1 })
    .where('ns', '=', ns)
    .where('id', '=', id)
    .where('buffered', '=', tick)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
