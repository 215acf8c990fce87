import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { runColumns, type RunRow } from './run-rows.ts';

/**
 * Makes a failed run runnable again from its failed step, in one transaction: the journal keeps
 * every entry before the last failed step (or child start), the failed entry and anything after
 * it are removed, signals taken by removed waits are handed back, and the run goes back to
 * 'pending' with its error cleared and its epoch bumped. A run that failed outside any step (a
 * non-determinism, an error thrown by workflow code) keeps its whole journal and replays it: the
 * retry is for after a deploy that fixed the cause. Returns the run as it is now.
 */
export async function retryRun(
  db: Kysely<WorkflowTables>,
  flags: DialectFlags,
  ns: string,
  runId: string,
  now: number,
  also?: (trx: Kysely<WorkflowTables>, row: RunRow) => Promise<void>,
): Promise<{ row: RunRow; fromSeq: number | null }> {
  return db.transaction().execute(async (trx) => {
    const run = (await trx
      .updateTable('aios_wf_runs')
      .set({ updated_at: now })
      .where('ns', '=', ns)
      .where('id', '=', runId)
      .returning(['status'])
      .executeTakeFirst()) as { status: string } | undefined;
    if (!run) throw new AiosError('AIOS_NOT_FOUND', `no workflow run ${runId} in namespace ${ns}`);
    if (run.status !== 'failed') throw new AiosError('AIOS_CONFLICT', `workflow run ${ns}/${runId} is ${run.status}; only a failed run can be retried`);
    const failed = (await trx
      .selectFrom('aios_wf_journal')
      .select('seq')
      .where('ns', '=', ns)
      .where('run_id', '=', runId)
      .where('status', '=', 'error')
      .where('kind', 'in', ['step', 'child'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()) as { seq: number } | undefined;
    const fromSeq = failed ? Number(failed.seq) : null;
    if (fromSeq !== null) {
      await trx.deleteFrom('aios_wf_journal').where('ns', '=', ns).where('run_id', '=', runId).where('seq', '>=', fromSeq).execute();
      await trx.updateTable('aios_wf_signals').set({ consumed_by: null }).where('ns', '=', ns).where('run_id', '=', runId).where('consumed_by', '>=', fromSeq).execute();
    }
    const row = (await trx
      .updateTable('aios_wf_runs')
      .set({ status: 'pending', error: null, output: null, owner: null, wake_at: null, completed_at: null, cancel_requested: 0, updated_at: now, epoch: (eb) => eb('epoch', '+', 1) })
      .where('ns', '=', ns)
      .where('id', '=', runId)
      .returning(runColumns(flags))
      .executeTakeFirstOrThrow()) as RunRow;
    if (also) await also(trx, row);
    return { row, fromSeq };
  });
}
