import type { Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { fence } from './fence.ts';
import { signalColumns, type SignalRow } from './run-rows.ts';

/**
 * Takes the earliest unconsumed signal of `name` for the wait at journal position `journalSeq`,
 * fenced, inside `trx` (the write batcher's transaction): if a signal of that name is already marked consumed by that seq (an
 * earlier attempt of the same wait, replayed after a crash), return it again; otherwise mark the
 * earliest unconsumed one `consumed_by = journalSeq` and return it. The fence's row lock makes
 * two takes for the same run run one after the other, so a signal is taken once; the seq check
 * makes a replayed wait idempotent. Undefined when no signal of that name is waiting.
 */
export async function takeSignal(
  trx: Kysely<WorkflowTables>,
  flags: DialectFlags,
  fenced: { ns: string; runId: string; epoch: number; now: number },
  name: string,
  journalSeq: number,
): Promise<SignalRow | undefined> {
  const { ns, runId, epoch, now } = fenced;
  {
    await fence(trx, ns, runId, epoch, now);
    const base = () => trx.selectFrom('aios_wf_signals').select(signalColumns(flags)).where('ns', '=', ns).where('run_id', '=', runId).where('name', '=', name);
    const again = (await base().where('consumed_by', '=', journalSeq).orderBy('seq').limit(1).executeTakeFirst()) as SignalRow | undefined;
    if (again) return again;
    const next = (await base().where('consumed_by', 'is', null).orderBy('seq').limit(1).executeTakeFirst()) as SignalRow | undefined;
    if (!next) return undefined;
    await trx.updateTable('aios_wf_signals').set({ consumed_by: journalSeq }).where('ns', '=', ns).where('run_id', '=', runId).where('seq', '=', next.seq).execute();
    return { ...next, consumed_by: journalSeq };
  }
}
