import type { Expression, Kysely, SqlBool } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { RunUpdate, WorkflowTables } from './tables.ts';
import { leaseLost } from './fence.ts';
import { IsolatedFailure } from './write-batcher.ts';
import { runColumns, type RunRow } from './run-rows.ts';

/**
 * A fenced update of a run, inside `trx` (the write batcher's transaction): `update ... set <patch>, updated_at = now where ns, id, epoch
 * returning *`; zero rows means the lease is lost.
 *
 * Releasing a waiting run (owner = null) races with `sendSignal`: a signal that arrived while
 * this worker held the run did not set wake_at (the owner was expected to see it), so a plain
 * release could leave the run asleep with its signal stored. Hence a second statement in the same
 * transaction sets wake_at = now when an awaited signal is stored unconsumed or a cancel was
 * requested. It is a separate statement on purpose: the first one holds the row lock, which
 * sendSignal also takes, so on PostgreSQL (READ COMMITTED) the second statement's fresh snapshot
 * sees any signal committed before; a signal committed after sees the released row and wakes it.
 */
export async function updateRun(
  trx: Kysely<WorkflowTables>,
  flags: DialectFlags,
  fenced: { ns: string; runId: string; epoch: number; now: number },
  set: RunUpdate,
  wakeOnSignals: readonly string[],
  wakeOnCancel = true,
  also?: (trx: Kysely<WorkflowTables>) => Promise<void>,
): Promise<RunRow> {
  const row = await update(trx, flags, fenced, set, wakeOnSignals, wakeOnCancel);
  if (also) await also(trx);
  return row;
}

async function update(
  trx: Kysely<WorkflowTables>,
  flags: DialectFlags,
  fenced: { ns: string; runId: string; epoch: number; now: number },
  set: RunUpdate,
  wakeOnSignals: readonly string[],
  wakeOnCancel: boolean,
): Promise<RunRow> {
  const { ns, runId, epoch, now } = fenced;
  const releasing = set.owner === null;
  {
    const row = (await trx
      .updateTable('aios_wf_runs')
      .set({ ...set, updated_at: now })
      .where('ns', '=', ns)
      .where('id', '=', runId)
      .where('epoch', '=', epoch)
      .returning(runColumns(flags))
      .executeTakeFirst()) as RunRow | undefined;
    if (!row) throw new IsolatedFailure(await leaseLost(trx, ns, runId, epoch));
    if (!releasing || row.status !== 'waiting' || (!wakeOnCancel && !wakeOnSignals.length)) return row;
    const woken = (await trx
      .updateTable('aios_wf_runs as r')
      .set({ wake_at: now })
      .where('r.ns', '=', ns)
      .where('r.id', '=', runId)
      .where((eb) => {
        const reasons: Expression<SqlBool>[] = wakeOnCancel ? [eb('r.cancel_requested', '=', 1)] : [];
        if (wakeOnSignals.length) {
          reasons.push(
            eb.exists(
              eb
                .selectFrom('aios_wf_signals as s')
                .select('s.seq')
                .whereRef('s.ns', '=', 'r.ns')
                .whereRef('s.run_id', '=', 'r.id')
                .where('s.consumed_by', 'is', null)
                .where('s.name', 'in', [...wakeOnSignals]),
            ),
          );
        }
        return eb.or(reasons);
      })
      .returning(runColumns(flags))
      .executeTakeFirst()) as RunRow | undefined;
    return woken ?? row;
  }
}
