import { sql, type Kysely } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';
import { runColumns, type RunRow } from './run-rows.ts';

/**
 * Claims up to `limit` runnable runs for `workerId` in one statement: owner = worker,
 * epoch + 1 (the new fencing token), status 'running', wake_at cleared.
 *
 * Runnable: not finished, and either released (no owner) and pending, running (handed back
 * mid-flight) or waiting and due; or held by an owner whose lease expired: no heartbeat since
 * `now - leaseMs` AND no write to the run since then. The second condition closes a race on
 * PostgreSQL: under READ COMMITTED, a claimer that meets a row another claimer has just taken
 * re-checks the new row version, but reads aios_wf_workers as of its own statement's start, when
 * the winner's heartbeat may not have been visible; the winner's `updated_at = now` is on the row
 * itself, so the re-check sees it. Any fenced write counts as a sign of life for that run.
 *
 * PostgreSQL (`skipLocked`): a materialized CTE picks candidates `FOR UPDATE SKIP LOCKED`, so
 * concurrent claimers in other processes take disjoint runs without waiting on each other; the
 * UPDATE joins on it. SQLite has one writer, so a single `UPDATE ... WHERE (ns, id) IN (SELECT
 * ... LIMIT n) RETURNING` is atomic by itself (RETURNING needs SQLite >= 3.35).
 *
 * Cost: the candidate scan reads live runs only (the partial index aios_wf_runs_claim leaves out
 * finished ones), plus a lookup of each owned candidate's worker row. With many thousands of
 * long-waiting owned runs, splitting the three branches into separate index scans would be the
 * next step; the engine claims in batches, so this runs once per poll, not per step.
 */
export async function claimRuns(db: Kysely<WorkflowTables>, flags: DialectFlags, workerId: string, now: number, leaseMs: number, limit: number): Promise<RunRow[]> {
  const cutoff = now - leaseMs;
  const runnable = sql`r.status in ('pending', 'running', 'waiting') and (
      (r.owner is null and (r.status <> 'waiting' or r.wake_at <= ${now}))
      or (r.owner is not null and r.updated_at < ${cutoff} and not exists (
        select 1 from aios_wf_workers w where w.id = r.owner and w.heartbeat_at >= ${cutoff})))`;
  if (flags.skipLocked) {
    const { rows } = await sql<RunRow>`
      with due as materialized (
        select r.ns, r.id from aios_wf_runs r
        where ${runnable}
        order by r.created_at, r.id
        limit ${limit}
        for update of r skip locked)
      update aios_wf_runs r
      set owner = ${workerId}, epoch = r.epoch + 1, status = 'running', wake_at = null, updated_at = ${now}
      from due where r.ns = due.ns and r.id = due.id
      returning ${sql.join(runColumns(flags, 'r'))}`.execute(db);
    return rows;
  }
  const { rows } = await sql<RunRow>`
    update aios_wf_runs
    set owner = ${workerId}, epoch = epoch + 1, status = 'running', wake_at = null, updated_at = ${now}
    where (ns, id) in (
      select r.ns, r.id from aios_wf_runs r
      where ${runnable}
      order by r.created_at, r.id
      limit ${limit})
    returning ${sql.join(runColumns(flags))}`.execute(db);
  return rows;
}
