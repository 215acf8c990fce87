import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { runColumns, type RunRow } from './run-rows.ts';
import type { ListRunsOptions } from './run-store.ts';

export const MAX_LIST_LIMIT = 1000;

/**
 * A page of a namespace's runs in (created_at, id) order, keyset-paginated: the cursor is the
 * last row's (created_at, id) and the next page starts after it with a row-value comparison,
 * which the (ns, [name | status,] created_at, id) indexes serve without an offset scan, and
 * which neither skips nor repeats a run when runs are created between pages. One row more than
 * asked says whether there is a next page.
 */
export async function listRuns(db: Kysely<WorkflowTables>, flags: DialectFlags, ns: string, opts: ListRunsOptions): Promise<{ rows: RunRow[]; next?: string }> {
  const limit = Math.min(Math.max(Math.trunc(opts.limit), 1), MAX_LIST_LIMIT);
  let q = db.selectFrom('aios_wf_runs').select(runColumns(flags)).where('ns', '=', ns);
  if (opts.name !== undefined) q = q.where('name', '=', opts.name);
  if (opts.status !== undefined) q = q.where('status', '=', opts.status);
  if (opts.from !== undefined) q = q.where('created_at', '>=', opts.from);
  if (opts.to !== undefined) q = q.where('created_at', '<', opts.to);
  if (opts.after !== undefined) {
    const [createdAt, id] = parseRunCursor(opts.after);
    q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(createdAt, id)));
  }
  const rows = (await q.orderBy('created_at').orderBy('id').limit(limit + 1).execute()) as RunRow[];
  if (rows.length <= limit) return { rows };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, next: formatRunCursor(Number(last.created_at), last.id) };
}

/** Opaque to callers: base64url of `[createdAt, id]`, safe in a URL whatever the id holds. */
export function formatRunCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url');
}

export function parseRunCursor(cursor: string): [number, string] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 2 || !Number.isSafeInteger(v[0]) || typeof v[1] !== 'string') {
    throw new AiosError('AIOS_BAD_REQUEST', `cursor "${cursor.slice(0, 100)}" is not a cursor returned by a run listing`);
  }
  return [v[0], v[1]];
}
