import { sql, type Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';

/** Partition → the first offset that may match. */
export type Positions = Record<number, number>;

/** An open wait as the matcher reads it, with the status of its run (null: no such run). */
export interface WaitRow {
  readonly ns: string;
  readonly runId: string;
  readonly seq: number;
  readonly topic: string;
  readonly match: string;
  readonly after: Positions;
  readonly deadline: number | null;
  readonly runStatus: string | null;
}

export type WaitKey = Pick<WaitRow, 'ns' | 'runId' | 'seq'>;

export async function insertWait(
  db: Kysely<WorkflowTables>,
  w: { ns: string; runId: string; seq: number; topic: string; match: string; deadline: number | null; after: Positions },
  now: number,
): Promise<void> {
  await db
    .insertInto('aios_wf_event_waits')
    .values({ ns: w.ns, run_id: w.runId, seq: w.seq, topic: w.topic, match: w.match, after: JSON.stringify(w.after), deadline: w.deadline, created_at: now })
    .onConflict((oc) => oc.columns(['ns', 'run_id', 'seq']).doNothing())
    .execute();
}

/**
 * Up to `limit` open waits in key order after `from` (keyset paging; the matcher walks the whole
 * table over successive ticks when it is larger than one batch), each with its run's status by a
 * left join on the run's primary key.
 */
export async function loadWaits(db: Kysely<WorkflowTables>, flags: DialectFlags, from: WaitKey | null, limit: number): Promise<WaitRow[]> {
  let q = db
    .selectFrom('aios_wf_event_waits as w')
    .leftJoin('aios_wf_runs as r', (j) => j.onRef('r.ns', '=', 'w.ns').onRef('r.id', '=', 'w.run_id'))
    .select(['w.ns', 'w.run_id', 'w.seq', 'w.topic', 'w.match', 'w.deadline', 'r.status'])
    .select(flags.jsonType === 'jsonb' ? sql<string>`w.after::text`.as('after') : sql<string>`w.after`.as('after'));
  if (from) q = q.where((eb) => eb(eb.refTuple('w.ns', 'w.run_id', 'w.seq'), '>', eb.tuple(from.ns, from.runId, from.seq)));
  const rows = await q.orderBy('w.ns').orderBy('w.run_id').orderBy('w.seq').limit(limit).execute();
  return rows.map((r) => ({
    ns: r.ns,
    runId: r.run_id,
    seq: Number(r.seq),
    topic: r.topic,
    match: r.match,
    after: parsePositions(r.after),
    deadline: r.deadline === null ? null : Number(r.deadline),
    runStatus: r.status ?? null,
  }));
}

function parsePositions(text: string): Positions {
  const out: Positions = {};
  for (const [p, o] of Object.entries(JSON.parse(text) as Record<string, unknown>)) if (Number.isSafeInteger(Number(p)) && typeof o === 'number') out[Number(p)] = o;
  return out;
}

export async function deleteWait(db: Kysely<WorkflowTables>, w: WaitKey): Promise<boolean> {
  const r = await db.deleteFrom('aios_wf_event_waits').where('ns', '=', w.ns).where('run_id', '=', w.runId).where('seq', '=', w.seq).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function deleteRunWaits(db: Kysely<WorkflowTables>, ns: string, runId: string): Promise<number> {
  const r = await db.deleteFrom('aios_wf_event_waits').where('ns', '=', ns).where('run_id', '=', runId).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * Moves waits' `after` past what was scanned without a match, in one transaction. A row deleted
 * meanwhile (delivered, cancelled) is simply not updated. Two matchers may write in either
 * order; an `after` moved back only costs a rescan of events that did not match.
 */
export async function advanceWaits(db: Kysely<WorkflowTables>, moves: readonly { key: WaitKey; after: Positions }[]): Promise<void> {
  if (!moves.length) return;
  await db.transaction().execute(async (trx) => {
    for (const { key, after } of moves) {
      await trx.updateTable('aios_wf_event_waits').set({ after: JSON.stringify(after) }).where('ns', '=', key.ns).where('run_id', '=', key.runId).where('seq', '=', key.seq).execute();
    }
  });
}
