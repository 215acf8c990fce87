import type { Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import { insertLockedSignal, lockRun } from '../store/send-signal.ts';
import { isTerminal, type RunStatus } from '../store/run-store.ts';
import { eventSignal } from '../engine/signals.ts';

/**
 * Delivers a matched event to its wait, once, in one transaction:
 *   1. lock the run row (as sendSignal does; the engine takes it first too, so no lock cycle);
 *   2. delete the wait row: zero rows means another matcher delivered it, or the engine
 *      cancelled it, since we read it, so nothing more is written;
 *   3. if the run still takes signals, store `aios.event:<seq>` (`eventSignal`) with the event as payload and
 *      wake the run if it is released and waiting (insertLockedSignal).
 * Several matchers on one PostgreSQL database race only at step 2, and exactly one wins.
 * A crash before the commit leaves the row, so the next tick delivers again: exactly once.
 */
export async function deliverEvent(
  db: Kysely<WorkflowTables>,
  flags: DialectFlags,
  wait: { ns: string; runId: string; seq: number },
  payload: string,
  now: number,
): Promise<boolean> {
  const { ns, runId, seq } = wait;
  return db.transaction().execute(async (trx) => {
    const run = await lockRun(trx, flags, ns, runId);
    const deleted = await trx.deleteFrom('aios_wf_event_waits').where('ns', '=', ns).where('run_id', '=', runId).where('seq', '=', seq).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) return false;
    if (!run || isTerminal(run.status as RunStatus)) return false;
    await insertLockedSignal(trx, flags, { ns, runId, name: eventSignal(seq), payload }, run, now);
    return true;
  });
}
