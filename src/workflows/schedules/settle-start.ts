import type { Kysely } from 'kysely';
import type { WorkflowTables } from '../store/tables.ts';

/**
 * Records that the run of the last fire exists: clears `start_pending` only if the schedule
 * still points at that run (a later fire may have replaced it, and its own flag must stay).
 */
export async function settleStart(db: Kysely<WorkflowTables>, ns: string, id: string, runId: string): Promise<void> {
  await db.updateTable('aios_wf_schedules').set({ start_pending: 0 }).where('ns', '=', ns).where('id', '=', id).where('last_run_id', '=', runId).where('start_pending', '=', 1).execute();
}
