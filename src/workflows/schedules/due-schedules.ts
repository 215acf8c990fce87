import type { Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import { scheduleColumns, type ScheduleRow } from './schedule-rows.ts';

/**
 * Active schedules whose next tick has come (`paused = 0 and next_fire_at <= now`), oldest tick
 * first, across namespaces; served by the partial index aios_wf_schedules_due. A plain read: the
 * claim that follows (claimFire) is what decides who fires, so two schedulers may read the same
 * rows and only one of them fires each.
 */
export async function dueSchedules(db: Kysely<WorkflowTables>, flags: DialectFlags, now: number, limit: number): Promise<ScheduleRow[]> {
  return (await db
    .selectFrom('aios_wf_schedules')
    .select(scheduleColumns(flags))
    .where('paused', '=', 0)
    .where('next_fire_at', 'is not', null)
    .where('next_fire_at', '<=', now)
    .orderBy('next_fire_at')
    .limit(limit)
    .execute()) as ScheduleRow[];
}

/**
 * Schedules with unfinished business: a claimed fire whose run may not exist yet
 * (`start_pending = 1`), or a fire buffered by overlap 'buffer_one'. Few rows; served by the
 * partial index aios_wf_schedules_followup.
 */
export async function followUpSchedules(db: Kysely<WorkflowTables>, flags: DialectFlags, limit: number): Promise<ScheduleRow[]> {
  return (await db
    .selectFrom('aios_wf_schedules')
    .select(scheduleColumns(flags))
    .where((eb) => eb.or([eb('start_pending', '=', 1), eb('buffered', 'is not', null)]))
    .orderBy('ns')
    .orderBy('id')
    .limit(limit)
    .execute()) as ScheduleRow[];
}
