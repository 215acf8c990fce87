import { sql } from 'kysely';
import type { Migration } from '../../storage/index.ts';

/**
 * Cron schedules of workflows (src/workflows/schedules). One row per schedule:
 * - `next_fire_at` is the tick the schedule waits for (epoch ms, null when the cron has no
 *   future occurrence). Firing a tick is a compare-and-set on it, so each tick fires once
 *   however many schedulers run.
 * - `last_run_id` is the run the last fire started (or is starting: `start_pending` = 1 between
 *   the claim and the run's creation, so a scheduler that died in between is repaired by the
 *   next tick of any scheduler; the run id is deterministic, so the repair cannot double it).
 * - `buffered` is the tick of the one fire held back by overlap 'buffer_one', or null.
 * Booleans are integers 0/1 on both engines, as in 0007. Times are epoch ms.
 */
export const m0008Schedules: Migration = {
  version: 8,
  name: 'schedules',
  async up(db, flags) {
    await db.schema
      .createTable('aios_wf_schedules')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('workflow', 'text', (c) => c.notNull())
      .addColumn('input', flags.jsonType)
      .addColumn('cron', 'text', (c) => c.notNull())
      .addColumn('timezone', 'text', (c) => c.notNull())
      .addColumn('overlap', 'text', (c) => c.notNull())
      .addColumn('catch_up', 'text', (c) => c.notNull())
      .addColumn('catch_up_limit', 'integer', (c) => c.notNull())
      .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_fire_at', 'bigint')
      .addColumn('last_fire_at', 'bigint')
      .addColumn('last_run_id', 'text')
      .addColumn('start_pending', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('buffered', 'bigint')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_wf_schedules_pk', ['ns', 'id'])
      .addCheckConstraint('aios_wf_schedules_overlap', sql`overlap in ('skip', 'buffer_one', 'allow')`)
      .addCheckConstraint('aios_wf_schedules_catch_up', sql`catch_up in ('skip', 'one', 'all')`)
      .execute();
    // The due scan of every scheduler tick: active schedules by their next tick, across namespaces.
    await db.schema
      .createIndex('aios_wf_schedules_due')
      .on('aios_wf_schedules')
      .column('next_fire_at')
      .where(sql<boolean>`paused = 0 and next_fire_at is not null`)
      .execute();
    // Both kinds of unfinished business a tick looks at first; few rows, so a small partial index.
    await db.schema
      .createIndex('aios_wf_schedules_followup')
      .on('aios_wf_schedules')
      .columns(['ns', 'id'])
      .where(sql<boolean>`start_pending = 1 or buffered is not null`)
      .execute();
  },
};
