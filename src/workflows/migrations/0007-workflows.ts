import { sql } from 'kysely';
import type { Migration } from '../../storage/index.ts';

/**
 * The durable run store of the workflow engine (src/workflows/store). Four tables:
 * - aios_wf_runs: one row per run. `epoch` is the lease's fencing token (bumped at each claim);
 *   `owner` is the worker holding the run; `wake_at` is when a released run must be looked at
 *   again; `updated_at` is the last write by the run's owner (a claim, a journal append, an
 *   update), which the claim also reads as proof that the owner is alive.
 * - aios_wf_journal: the recorded non-deterministic operations of a run, by position `seq`.
 * - aios_wf_signals: signals in arrival order per run; `consumed_by` is the journal seq of the
 *   wait that took it, so a signal sent before its wait is kept, and taken once.
 * - aios_wf_workers: one heartbeat row per worker process, so heartbeats never touch run rows.
 * JSON is TEXT on SQLite and JSONB on PostgreSQL; times are epoch ms. No foreign keys, like the
 * other capabilities: the store checks what it needs.
 */
export const m0007Workflows: Migration = {
  version: 7,
  name: 'workflows',
  async up(db, flags) {
    const json = flags.jsonType;
    await db.schema
      .createTable('aios_wf_runs')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('input', json)
      .addColumn('output', json)
      .addColumn('error', json)
      .addColumn('state', json)
      .addColumn('parent_ns', 'text')
      .addColumn('parent_id', 'text')
      .addColumn('lineage_id', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('completed_at', 'bigint')
      .addColumn('wake_at', 'bigint')
      .addColumn('owner', 'text')
      .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
      // An integer on both engines (0/1): one representation, no boolean mapping per driver.
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('aios_wf_runs_pk', ['ns', 'id'])
      .addCheckConstraint('aios_wf_runs_status', sql`status in ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'terminated')`)
      .execute();
    // Partial: finished runs, which pile up, never enter the claim index, so history does not
    // slow claiming. The literal list must match the claim's `status in (...)` for the planner.
    await db.schema
      .createIndex('aios_wf_runs_claim')
      .on('aios_wf_runs')
      .columns(['status', 'wake_at'])
      .where(sql<boolean>`status in ('pending', 'running', 'waiting')`)
      .execute();
    await db.schema.createIndex('aios_wf_runs_owner').on('aios_wf_runs').column('owner').where(sql<boolean>`owner is not null`).execute();
    // Listing pages by (created_at, id); the id makes each index serve the cursor's order fully.
    const lists: [string, string[]][] = [
      ['aios_wf_runs_created', ['ns', 'created_at', 'id']],
      ['aios_wf_runs_name', ['ns', 'name', 'created_at', 'id']],
      ['aios_wf_runs_status', ['ns', 'status', 'created_at', 'id']],
    ];
    for (const [name, columns] of lists) await db.schema.createIndex(name).on('aios_wf_runs').columns(columns).execute();

    await db.schema
      .createTable('aios_wf_journal')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('result', json)
      .addColumn('error', json)
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_wf_journal_pk', ['ns', 'run_id', 'seq'])
      .addCheckConstraint('aios_wf_journal_status', sql`status in ('ok', 'error')`)
      .execute();

    await db.schema
      .createTable('aios_wf_signals')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('payload', json)
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('consumed_by', 'integer')
      .addPrimaryKeyConstraint('aios_wf_signals_pk', ['ns', 'run_id', 'seq'])
      .execute();

    await db.schema
      .createTable('aios_wf_workers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};
