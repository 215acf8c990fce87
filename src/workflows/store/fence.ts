import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { WorkflowTables } from './tables.ts';
import { IsolatedFailure } from './write-batcher.ts';
import { WorkflowsError } from '../errors.ts';

/**
 * The lease fence, the first statement of every operation by which a worker writes to a run:
 *
 *   update aios_wf_runs set updated_at = $now where ns = $ns and id = $id and epoch = $epoch
 *
 * Zero rows: another worker claimed the run since (or it does not exist), so nothing is written.
 * Why an UPDATE and not a SELECT: on PostgreSQL it holds the run's row lock until commit, so a
 * claim cannot bump the epoch between this check and the commit (a concurrent claim skips the
 * locked row; one that committed first leaves zero rows here); on SQLite a write as the first
 * statement takes the write lock at once, instead of upgrading a read lock later, which can fail
 * with SQLITE_BUSY. The cost is one HOT tuple version per write on PostgreSQL (updated_at is in
 * no index), and it gives the claim its proof that the owner is alive.
 */
export async function fence(trx: Kysely<WorkflowTables>, ns: string, runId: string, epoch: number, now: number): Promise<void> {
  const r = await trx.updateTable('aios_wf_runs').set({ updated_at: now }).where('ns', '=', ns).where('id', '=', runId).where('epoch', '=', epoch).executeTakeFirst();
  // Nothing was written: the failure is this operation's alone, a shared transaction goes on.
  if (Number(r.numUpdatedRows) === 0) throw new IsolatedFailure(await leaseLost(trx, ns, runId, epoch));
}

/** The error for a fenced write that changed nothing, saying what the run's epoch is now. */
export async function leaseLost(db: Kysely<WorkflowTables>, ns: string, runId: string, epoch: number): Promise<AiosError> {
  const row = await db.selectFrom('aios_wf_runs').select(['epoch', 'owner']).where('ns', '=', ns).where('id', '=', runId).executeTakeFirst();
  if (!row) return new AiosError('AIOS_NOT_FOUND', `no workflow run ${runId} in namespace ${ns}`);
  return new WorkflowsError(
    'AIOS_WF_LEASE_LOST',
    `workflow run ${ns}/${runId} is at epoch ${row.epoch} (owner ${row.owner ?? 'none'}), not ${epoch}: this worker lost its lease; stop executing the run`,
    { extra: { ns, runId, epoch, currentEpoch: Number(row.epoch) } },
  );
}
