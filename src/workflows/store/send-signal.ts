import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { runColumns, type RunRow } from './run-rows.ts';
import { notifyWake } from './wake-ups.ts';
import { isTerminal, type RunStatus } from './run-store.ts';

/**
 * Stores a signal for a run, in one transaction: lock the run row, refuse an unknown or finished
 * run, number the signal max(seq) + 1 for that run, insert it, and when the run is waiting with
 * no owner, set its wake_at to now so that a claimer picks it up.
 *
 * The row lock (PostgreSQL `for update`; on SQLite a no-op write first, which takes the write lock
 * at once like BEGIN IMMEDIATE) numbers concurrent signals without gaps or clashes, and orders
 * this against a worker releasing the run (see update-run.ts), so a wake-up is never lost. The
 * signal is not fenced: anyone allowed to signal may, whoever holds the run.
 */
export async function sendSignal(
  db: Kysely<WorkflowTables>,
  flags: DialectFlags,
  signal: { ns: string; runId: string; name: string; payload: string | null },
  now: number,
  also?: (trx: Kysely<WorkflowTables>, row: RunRow) => Promise<void>,
): Promise<{ seq: number }> {
  const { ns, runId } = signal;
  return db.transaction().execute(async (trx) => {
    const run = await lockRun(trx, flags, ns, runId);
    if (!run) throw new AiosError('AIOS_NOT_FOUND', `no workflow run ${runId} in namespace ${ns}`);
    if (isTerminal(run.status as RunStatus)) throw new AiosError('AIOS_CONFLICT', `workflow run ${ns}/${runId} is ${run.status}; it takes no more signals`);
    const stored = await insertLockedSignal(trx, flags, signal, run, now);
    if (also) await also(trx, (await trx.selectFrom('aios_wf_runs').select(runColumns(flags)).where('ns', '=', ns).where('id', '=', runId).executeTakeFirstOrThrow()) as RunRow);
    return stored;
  });
}

/** Locks one run row for the rest of the transaction and reads what decides the next step. */
export async function lockRun(trx: Kysely<WorkflowTables>, flags: DialectFlags, ns: string, id: string): Promise<{ status: string; owner: string | null } | undefined> {
  let q = trx.selectFrom('aios_wf_runs').select(['status', 'owner']).where('ns', '=', ns).where('id', '=', id);
  if (flags.concurrentWriters) q = q.forUpdate();
  else await trx.updateTable('aios_wf_runs').set((eb) => ({ epoch: eb.ref('epoch') })).where('ns', '=', ns).where('id', '=', id).execute();
  return (await q.executeTakeFirst()) as { status: string; owner: string | null } | undefined;
}

/**
 * Stores a signal for a run whose row the caller's transaction has locked (`lockRun`) and found
 * unfinished: number it max(seq) + 1, insert it, and set wake_at when the run is waiting with no
 * owner; on PostgreSQL, notify listeners at commit. Shared by sendSignal and the event-wait matcher, which delivers in its own transaction.
 */
export async function insertLockedSignal(
  trx: Kysely<WorkflowTables>,
  flags: DialectFlags,
  signal: { ns: string; runId: string; name: string; payload: string | null },
  run: { status: string; owner: string | null },
  now: number,
): Promise<{ seq: number }> {
  const { ns, runId } = signal;
  const last = await trx.selectFrom('aios_wf_signals').select((eb) => eb.fn.max('seq').as('seq')).where('ns', '=', ns).where('run_id', '=', runId).executeTakeFirst();
  const seq = Number(last?.seq ?? 0) + 1;
  await trx.insertInto('aios_wf_signals').values({ ns, run_id: runId, seq, name: signal.name, payload: signal.payload, created_at: now, consumed_by: null }).execute();
  if (run.status === 'waiting' && run.owner === null) {
    await trx.updateTable('aios_wf_runs').set({ wake_at: now }).where('ns', '=', ns).where('id', '=', runId).execute();
  }
  // Delivered at commit to the process holding the run, or to claimers of a released one.
  if (flags.listenNotify) await notifyWake(trx, { ns, id: runId, signal: signal.name });
  return { seq };
}
