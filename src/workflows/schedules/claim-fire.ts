import { sql, type Kysely } from 'kysely';
import type { ScheduleUpdate, WorkflowTables } from '../store/tables.ts';

export interface FireClaim {
  readonly ns: string;
  readonly id: string;
  /** The `next_fire_at` this scheduler read: the claim holds only if nobody moved it since. */
  readonly readNextFireAt: number;
  /** Where the schedule waits next (null: the cron has no further occurrence). */
  readonly nextFireAt: number | null;
  /** The tick fired; absent when missed ticks are only skipped. */
  readonly firedAt?: number;
  /** The run this fire starts (its deterministic id); absent when overlap holds the fire back. */
  readonly runId?: string;
  /** Overlap 'buffer_one' held the fire back: keep this tick as the buffered one, unless one is already kept. */
  readonly buffer?: number;
}

/**
 * Claims one fire of a schedule with a compare-and-set on the tick read:
 *
 *   update aios_wf_schedules set next_fire_at = $next, last_fire_at = $tick[, last_run_id = $run, start_pending = 1]
 *   where ns = $ns and id = $id and next_fire_at = $read
 *
 * Exactly one of any number of schedulers that read the same `next_fire_at` changes the row;
 * the others see 0 rows and start nothing, so each tick fires once across processes. One
 * statement, so it is atomic on SQLite (one writer) and on PostgreSQL (the row lock taken by
 * the update makes a concurrent update re-check `next_fire_at = $read` after the first commits,
 * under READ COMMITTED, and fail). `for update skip locked` was not needed: a loser costs one
 * indexed update that changes nothing, and the loser never waits on a transaction held open
 * across the start of a run. The intended run id is written in the same statement with
 * `start_pending = 1`, so a crash between this claim and the run's creation is repaired by the
 * next tick of any scheduler (see `pendingStarts`), with the same id.
 */
export async function claimFire(db: Kysely<WorkflowTables>, c: FireClaim): Promise<boolean> {
  const set: ScheduleUpdate = { next_fire_at: c.nextFireAt };
  if (c.firedAt !== undefined) set.last_fire_at = c.firedAt;
  if (c.runId !== undefined) Object.assign(set, { last_run_id: c.runId, start_pending: 1 });
  if (c.buffer !== undefined) set.buffered = sql`coalesce(buffered, ${c.buffer})`;
  const r = await db
    .updateTable('aios_wf_schedules')
    .set(set)
    .where('ns', '=', c.ns)
    .where('id', '=', c.id)
    .where('next_fire_at', '=', c.readNextFireAt)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
