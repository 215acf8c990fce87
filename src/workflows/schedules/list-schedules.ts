import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import { scheduleColumns, type ScheduleRow } from './schedule-rows.ts';

export const MAX_SCHEDULE_LIST_LIMIT = 1000;

/**
 * A page of a namespace's schedules in id order, keyset-paginated on the primary key (ns, id):
 * the cursor is the last id, so a page is an index range scan and schedules created or deleted
 * between pages are neither skipped nor repeated. One row more than asked says whether there is
 * a next page.
 */
export async function listSchedules(db: Kysely<WorkflowTables>, flags: DialectFlags, ns: string, opts: { limit: number; after?: string }): Promise<{ rows: ScheduleRow[]; next?: string }> {
  const limit = Math.min(Math.max(Math.trunc(opts.limit) || 1, 1), MAX_SCHEDULE_LIST_LIMIT);
  let q = db.selectFrom('aios_wf_schedules').select(scheduleColumns(flags)).where('ns', '=', ns);
  if (opts.after !== undefined) q = q.where('id', '>', parseCursor(opts.after));
  const rows = (await q.orderBy('id').limit(limit + 1).execute()) as ScheduleRow[];
  if (rows.length <= limit) return { rows };
  const page = rows.slice(0, limit);
  return { rows: page, next: Buffer.from(JSON.stringify([page[page.length - 1].id]), 'utf8').toString('base64url') };
}

function parseCursor(cursor: string): string {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 1 || typeof v[0] !== 'string') throw new AiosError('AIOS_BAD_REQUEST', `cursor "${cursor.slice(0, 100)}" is not a cursor returned by a schedule listing`);
  return v[0];
}
