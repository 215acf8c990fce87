import { sql, type Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { fence, leaseLost } from './fence.ts';
import { IsolatedFailure } from './write-batcher.ts';
import { journalColumns, type JournalRow } from './run-rows.ts';

/** 500 rows x 9 columns stays well under SQLite's 32,766 and PostgreSQL's 65,535 bind parameters. */
export const ROWS_PER_INSERT = 500;

/**
 * Records journal entries inside `trx` (the write batcher's transaction): fence, `insert ... on conflict (ns, run_id, seq)
 * do nothing`, read back what is stored at those seqs, then the caller's `also(trx)`. Insert-
 * ignore plus read-back makes recording idempotent (DBOS's operation_outputs): if a seq is
 * already stored, by an earlier attempt whose commit the caller never saw, the stored entry wins
 * and is what the caller gets. `also` is skipped when every entry was already stored, since the
 * transaction that stored them committed its own side effects; a call with no entries runs it.
 * The fence comes first so that its row lock is the first lock taken, before any lock `also`
 * takes (event partitions, the audit head): one lock order, no deadlock with the event log.
 */
export async function appendJournal(
  trx: Kysely<WorkflowTables>,
  flags: DialectFlags,
  spec: AppendSpec,
  also?: (trx: Kysely<WorkflowTables>) => Promise<void>,
  pre?: FenceOutcome,
): Promise<JournalRow[]> {
  const { rows } = spec;
  const { ns, runId, epoch, now } = spec.fenced;
  {
    // On PostgreSQL the write batcher has already fenced and inserted (the first chunk of) every
    // append of the batch in one statement (`pre`, from fenceAndInsertMany); otherwise fence here.
    const done = pre;
    if (done && !done.fenced) throw new IsolatedFailure(await leaseLost(trx, ns, runId, epoch));
    if (!done) await fence(trx, ns, runId, epoch, now);
    let inserted = done?.inserted ?? 0;
    for (let i = done?.from ?? 0; i < rows.length; i += ROWS_PER_INSERT) {
      const r = await trx
        .insertInto('aios_wf_journal')
        .values(rows.slice(i, i + ROWS_PER_INSERT))
        .onConflict((oc) => oc.columns(['ns', 'run_id', 'seq']).doNothing())
        .executeTakeFirst();
      inserted += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    // Everything inserted: what is stored is what was given, no read-back needed.
    let stored: JournalRow[] = inserted === rows.length ? [...rows] : [];
    if (rows.length && inserted !== rows.length) {
      const seqs = new Set(rows.map((r) => r.seq));
      // A range, not `seq in (...)`: one bound pair whatever the batch size.
      const found = (await trx
        .selectFrom('aios_wf_journal')
        .select(journalColumns(flags))
        .where('ns', '=', ns)
        .where('run_id', '=', runId)
        .where('seq', '>=', Math.min(...seqs))
        .where('seq', '<=', Math.max(...seqs))
        .orderBy('seq')
        .execute()) as JournalRow[];
      stored = found.filter((r) => seqs.has(Number(r.seq)));
    }
    if (also && (rows.length === 0 || inserted > 0)) await also(trx);
    return stored;
  }
}

/** One journal append: the rows of one run, and the lease they are written under. */
export interface AppendSpec {
  readonly rows: readonly JournalRow[];
  readonly fenced: { readonly ns: string; readonly runId: string; readonly epoch: number; readonly now: number };
}

/** What the merged fence-and-insert did for one append: `from` is how many of its rows it covered. */
export interface FenceOutcome {
  readonly fenced: boolean;
  readonly inserted: number;
  readonly from: number;
}

/** Bind parameters per merged statement, well under PostgreSQL's 65,535. */
const MAX_PARAMS = 30_000;

/**
 * PostgreSQL: the fences of many appends (`update aios_wf_runs ... where epoch = ...`, which take
 * the runs' row locks first, as `fence` does) and the insert-or-keep of their entries, in one
 * statement per chunk through data-modifying CTEs: an entry is inserted only if its run's fence
 * matched. One round trip for a whole group-commit batch instead of one or two per append.
 */
export async function fenceAndInsertMany(trx: Kysely<WorkflowTables>, specs: readonly AppendSpec[]): Promise<FenceOutcome[]> {
  const out: FenceOutcome[] = [];
  let chunk: AppendSpec[] = [];
  let params = 0;
  const flush = async () => {
    if (chunk.length) out.push(...(await fenceAndInsertChunk(trx, chunk)));
    chunk = [];
    params = 0;
  };
  for (const spec of specs) {
    const cost = 3 + 9 * Math.min(spec.rows.length, ROWS_PER_INSERT);
    if (params + cost > MAX_PARAMS) await flush();
    chunk.push(spec);
    params += cost;
  }
  await flush();
  return out;
}

async function fenceAndInsertChunk(trx: Kysely<WorkflowTables>, specs: readonly AppendSpec[]): Promise<FenceOutcome[]> {
  const now = specs[0].fenced.now;
  const keys = sql.join(specs.map((s) => sql`(${s.fenced.ns}::text, ${s.fenced.runId}::text, ${s.fenced.epoch}::bigint)`));
  // Each row carries its append's epoch: two appends to one run in a batch (a zombie's and the
  // owner's) are told apart, and only the one whose fence matched inserts.
  const rows = specs.flatMap((s) => s.rows.slice(0, ROWS_PER_INSERT).map((r) => ({ r, epoch: s.fenced.epoch })));
  const values = rows.length
    ? sql.join(rows.map(({ r, epoch }) => sql`(${r.ns}::text, ${r.run_id}::text, ${epoch}::bigint, ${r.seq}::integer, ${r.kind}::text, ${r.name}::text, ${r.status}::text, ${r.result}::jsonb, ${r.error}::jsonb, ${r.created_at}::bigint)`))
    : sql`(null::text, null::text, null::bigint, null::integer, null::text, null::text, null::text, null::jsonb, null::jsonb, null::bigint)`;
  const { rows: found } = await sql<{ what: 'f' | 'i'; ns: string; id: string; epoch: number | null; seq: number | null }>`
    with k(ns, id, epoch) as (values ${keys}),
    f as (
      update aios_wf_runs r set updated_at = ${now} from k
      where r.ns = k.ns and r.id = k.id and r.epoch = k.epoch
      returning r.ns, r.id, r.epoch
    ), v(ns, run_id, epoch, seq, kind, name, status, result, error, created_at) as (values ${values}),
    i as (
      insert into aios_wf_journal (ns, run_id, seq, kind, name, status, result, error, created_at)
      select v.ns, v.run_id, v.seq, v.kind, v.name, v.status, v.result, v.error, v.created_at
      from v join f on f.ns = v.ns and f.id = v.run_id and f.epoch = v.epoch
      on conflict (ns, run_id, seq) do nothing
      returning ns, run_id, seq
    )
    select 'f' as what, ns, id, epoch, null::integer as seq from f
    union all select 'i', ns, run_id, null::bigint, seq from i`.execute(trx);
  const fenced = new Set<string>();
  const inserted = new Set<string>();
  for (const r of found) {
    if (r.what === 'f') fenced.add(`${r.ns}\u0000${r.id}\u0000${r.epoch}`);
    else inserted.add(`${r.ns}\u0000${r.id}\u0000${r.seq}`);
  }
  return specs.map((s) => {
    const run = `${s.fenced.ns}\u0000${s.fenced.runId}`;
    const ok = fenced.has(`${run}\u0000${s.fenced.epoch}`);
    const covered = s.rows.slice(0, ROWS_PER_INSERT);
    // Rows are attributed by seq; of two fenced appends to one run, the owner's are the inserted ones.
    return { fenced: ok, inserted: ok ? covered.filter((r) => inserted.has(`${run}\u0000${r.seq}`)).length : 0, from: covered.length };
  });
}
